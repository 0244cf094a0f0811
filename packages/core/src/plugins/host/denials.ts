/**
 * Turns what Node's permission model (and a missing network) throw inside a plugin process into
 * `PLUGIN_PERMISSION_DENIED` errors that name the plugin, the node, what it tried and how to grant it.
 */

import type { WireError } from '../protocol.js';

/** What a denied operation was, from the `permission` Node puts on ERR_ACCESS_DENIED. */
const PERMISSIONS: Record<string, { what: string; grant: string }> = {
  FileSystemRead: { what: 'read', grant: '"read": ["<folder>"]' },
  FileSystemWrite: { what: 'write', grant: '"write": ["<folder>"]' },
  ChildProcess: { what: 'start a program', grant: '"childProcess": true' },
  WorkerThreads: { what: 'start a worker thread', grant: '"worker": true' },
  WASI: { what: 'use WASI', grant: '"wasi": true' },
  Inspector: { what: 'open the inspector', grant: '(nothing: the inspector is never granted)' },
};

/** Error codes a process without a network gets from sockets and DNS. */
const NETWORK_CODES = new Set(['ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EHOSTUNREACH']);

/** Where the denial happened, for the message. */
export interface DenialScope {
  readonly plugin: string;
  readonly nodeId?: string;
  readonly type?: string;
  /** `running`, `loading`, `fingerprinting`, `migrating`. */
  readonly doing: string;
  /** Whether the process runs without a network (so network errors are the sandbox's doing). */
  readonly networkBlocked: boolean;
}

/**
 * The coded error for a denial found in `error` (or its `cause` chain), or undefined when the error is
 * something else. The plugin's own error codes are kept as they are.
 */
export function denialError(error: unknown, scope: DenialScope): WireError | undefined {
  const found = findDenial(error, scope.networkBlocked);
  if (!found) return undefined;
  const where = scope.nodeId
    ? `node "${scope.nodeId}" (${scope.type ?? 'unknown type'})`
    : scope.doing === 'loading'
      ? 'its entry file'
      : 'its code';
  const prefix = `Plugin "${scope.plugin}" was denied`;
  const grantHint = (grant: string) =>
    `The plugin runs isolated (docs/plugins.md, "Isolation"). If you trust "${scope.plugin}" with this, grant it in kinegraph.grants.json: { "plugins": { "${scope.plugin}": { ${grant} } } }.`;
  const base = {
    name: 'KinegraphError',
    code: 'PLUGIN_PERMISSION_DENIED',
    ...(scope.nodeId ? { nodeId: scope.nodeId } : {}),
  };
  switch (found.kind) {
    case 'permission': {
      const known = PERMISSIONS[found.permission];
      const what = known?.what ?? 'an operation';
      const resource = found.resource ? ` ${found.resource}` : '';
      return {
        ...base,
        message: `${prefix} permission to ${what}${resource} while ${scope.doing} ${where}.`,
        hint: grantHint(known?.grant ?? '…'),
      };
    }
    case 'binding':
      return {
        ...base,
        message: `${prefix} process.binding (Node's internal bindings) while ${scope.doing} ${where}.`,
        hint: `Internal bindings are never granted to an isolated plugin. Report it to the authors of "${scope.plugin}".`,
      };
    case 'addon':
      return {
        ...base,
        message: `${prefix} loading a native addon while ${scope.doing} ${where}.`,
        hint: grantHint('"addons": true'),
      };
    case 'network':
      return {
        ...base,
        message: `${prefix} network access (${found.detail}) while ${scope.doing} ${where}: it runs without a network.`,
        hint: grantHint('"network": true'),
      };
  }
}

type Denial =
  | { kind: 'permission'; permission: string; resource: string }
  | { kind: 'binding' }
  | { kind: 'addon' }
  | { kind: 'network'; detail: string };

function findDenial(error: unknown, networkBlocked: boolean): Denial | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as {
      code?: unknown;
      permission?: unknown;
      resource?: unknown;
      message?: unknown;
      syscall?: unknown;
    };
    if (e.code === 'ERR_ACCESS_DENIED') {
      if (typeof e.permission === 'string' && e.permission)
        return {
          kind: 'permission',
          permission: e.permission,
          resource: typeof e.resource === 'string' ? e.resource : '',
        };
      return String(e.message).includes('process.binding')
        ? { kind: 'binding' }
        : { kind: 'permission', permission: '', resource: '' };
    }
    if (e.code === 'ERR_DLOPEN_DISABLED') return { kind: 'addon' };
    if (networkBlocked && typeof e.code === 'string' && NETWORK_CODES.has(e.code))
      return { kind: 'network', detail: `${typeof e.syscall === 'string' ? `${e.syscall}: ` : ''}${e.code}` };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
