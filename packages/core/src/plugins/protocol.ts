/**
 * Messages between the runtime and a plugin process (see `wire.ts` for the bytes, `plugin-process.ts` for
 * the runtime's side and `host/plugin-host.ts` for the plugin's).
 *
 * The runtime asks the plugin process to load the plugin, then to `call` a node's `run` or `fingerprint`
 * (and, for `files.writeOutput` with a callback, to `write` a temporary file). While a call runs, the
 * plugin process sends `req`uests (tensor, op and file operations, each answered by a `reply`) and
 * `note`s (progress, warnings, handle retains and releases: no answer). Tensors never cross: handles do,
 * and data only when a node uploads or reads it. Every id is a number the sender chose, unique per
 * direction; what the plugin process sends is checked field by field before use.
 */

import type { PortTypeDefinition } from '../sdk/port-types.js';
import type { TensorStoreStats } from '../tensor/types.js';

/** An error as it crosses the channel: its class name, message and, when it has them, code, node and hint. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly nodeId?: string;
  readonly hint?: string;
}

/** Folders of the run a call belongs to, as `context.files` reports them. */
export interface FilesInfo {
  readonly allowedFolders: readonly string[];
  readonly outputFolder: string;
}

/** A node type as the plugin process describes it: its definition without the functions. */
export interface NodeDescriptionWire {
  readonly type: string;
  readonly version: number;
  readonly title: string;
  readonly category: string;
  readonly description: string;
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, { type: string; title?: string; description?: string; optional?: boolean }>;
  readonly outputs: Record<string, { type: string; title?: string; description?: string }>;
  readonly cache?: boolean;
  /** Whether the node has a `fingerprint` function. */
  readonly fingerprint: boolean;
  /** Versions its `migrate` has a step from. */
  readonly migrations: readonly number[];
  /** Whether the node declares its memory (`memory`). */
  readonly memory?: boolean;
}

/** A plugin as the plugin process describes it. */
export interface PluginDescriptionWire {
  readonly name: string;
  readonly version?: string;
  readonly portTypes?: readonly PortTypeDefinition[];
  readonly nodes: readonly NodeDescriptionWire[];
}

/** The answer to `load`: one entry per entry file of the package. */
export interface LoadResultWire {
  readonly entries: ReadonlyArray<{ entry: string; plugin?: PluginDescriptionWire; error?: WireError }>;
}

/** Runtime → plugin process. */
export type ToPlugin =
  | {
      readonly t: 'load';
      readonly package: string;
      readonly dir: string;
      readonly entries: readonly string[];
      /** Whether the process runs without a network (so network errors are reported as denials). */
      readonly networkBlocked: boolean;
    }
  | {
      readonly t: 'call';
      readonly id: number;
      readonly op: 'run';
      readonly type: string;
      readonly nodeId: string;
      readonly params: unknown;
      readonly inputs: unknown;
      readonly workflow: unknown;
      readonly previews: boolean;
      readonly device: string;
      readonly files: FilesInfo;
      /** The run's memory budget and what was left of it when the call began (absent: no budget). */
      readonly budget?: { readonly bytes: number; readonly available: number };
    }
  | {
      readonly t: 'call';
      readonly id: number;
      readonly op: 'fingerprint';
      readonly type: string;
      readonly nodeId: string;
      readonly params: unknown;
      readonly files: FilesInfo;
    }
  | {
      readonly t: 'call';
      readonly id: number;
      readonly op: 'write';
      /** The `run` call whose `files.writeOutput` callback this is. */
      readonly parent: number;
      readonly nodeId: string;
      readonly callback: number;
      readonly tmpPath: string;
    }
  | {
      readonly t: 'call';
      readonly id: number;
      /** A node's `memory` declaration for these params, input shapes and facts (null: it declares none). */
      readonly op: 'memory';
      readonly type: string;
      readonly nodeId: string;
      readonly args: unknown;
    }
  | {
      readonly t: 'call';
      readonly id: number;
      /** A node's migration chain from `from`: the state after each step, as far as the steps succeed. */
      readonly op: 'migrate';
      readonly type: string;
      readonly nodeId: string;
      readonly from: number;
      readonly node: unknown;
    }
  | { readonly t: 'abort'; readonly id: number; readonly reason: WireError }
  | ({
      readonly t: 'reply';
      readonly id: number;
      /** The store's and the ops' counters after the request, for `stats()` on the plugin's side. */
      readonly stats?: TensorStoreStats;
      readonly opsStats?: unknown;
      /** What is left of the run's memory budget after the request. */
      readonly budgetAvailable?: number;
    } & ({ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WireError }));

/** Plugin process → runtime. */
export type FromPlugin =
  | { readonly t: 'loaded'; readonly result: LoadResultWire }
  | ({ readonly t: 'done'; readonly id: number } & (
      | { readonly ok: true; readonly value: unknown }
      | { readonly ok: false; readonly error: WireError }
    ))
  | { readonly t: 'req'; readonly id: number; readonly call: number; readonly op: RequestOp; readonly args: unknown[] }
  | { readonly t: 'note'; readonly call: number; readonly op: NoteOp; readonly args: unknown[] };

/** Tensor ops a plugin may ask for by name (the methods of `TensorOps` that make tensors). */
export const OP_NAMES = [
  'add',
  'sub',
  'mul',
  'div',
  'scale',
  'axpby',
  'lerp',
  'cfgMix',
  'concat',
  'slice',
  'chunk',
  'where',
  'resize',
  'randn',
] as const;
export type OpName = (typeof OP_NAMES)[number];

/** Requests a call may make, each answered by a reply. */
export const REQUEST_OPS = [
  'tensors.upload',
  'tensors.read',
  'tensors.loadModel',
  'tensors.run',
  'files.resolveRead',
  'files.read',
  'files.writeOutput',
  ...OP_NAMES.map((name) => `ops.${name}` as const),
] as const;
export type RequestOp = (typeof REQUEST_OPS)[number];

/**
 * One-way messages of a call. `cancel` aborts one of the call's own requests. `upload` is one-way too: the
 * plugin process checks the data itself and names the new tensor with a provisional (negative) id, which
 * the runtime maps to the store's own, so a node's uploads cost no round trip each.
 */
export const NOTE_OPS = ['progress', 'warn', 'upload', 'retain', 'release', 'cancel'] as const;
export type NoteOp = (typeof NOTE_OPS)[number];

/** Turns anything thrown into a {@link WireError}, keeping code, node and hint when present. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown; code?: unknown; nodeId?: unknown; hint?: unknown };
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(e.message),
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.nodeId === 'string' ? { nodeId: e.nodeId } : {}),
      ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** Checks the shape of a {@link WireError} from the other side (strings only, bounded). */
export function asWireError(value: unknown): WireError {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  // Bounded, and without control characters (but line breaks): the CLI prints these to your terminal.
  const text = (x: unknown, max: number) =>
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    typeof x === 'string' ? x.slice(0, max).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd') : undefined;
  const code = text(v.code, 100);
  const nodeId = text(v.nodeId, 500);
  const hint = text(v.hint, 4000);
  return {
    name: text(v.name, 100) ?? 'Error',
    message: text(v.message, 8000) ?? 'unknown error',
    ...(code !== undefined ? { code } : {}),
    ...(nodeId !== undefined ? { nodeId } : {}),
    ...(hint !== undefined ? { hint } : {}),
  };
}
