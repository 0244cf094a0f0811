/**
 * How a plugin process is started: Node's permission model for files, programs, threads and native code,
 * and, on Linux where namespaces are allowed, namespaces of its own for the network, the process table
 * and the mounts (to hide the UNIX sockets of /run and X11, which the permission model does not cover).
 */

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isInside } from './folders.js';

/**
 * What a plugin process may do beyond files, each granted or not: start programs, start worker threads,
 * load native addons, use WASI, use the network. A plugin's grants (`grants.ts`) and the policy its process
 * is started with both carry these.
 */
export interface ProcessCapabilities {
  readonly childProcess: boolean;
  readonly worker: boolean;
  readonly addons: boolean;
  readonly wasi: boolean;
  /** True: the network is granted (no network namespace). */
  readonly network: boolean;
}

/** What a plugin process may do. Paths are absolute and exist. */
export interface SandboxPolicy extends ProcessCapabilities {
  readonly read: readonly string[];
  readonly write: readonly string[];
  /** The whole environment the process gets. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/** Whether and how a plugin process is kept off the network, for `kinegraph plugins` and the docs. */
export interface NetworkIsolation {
  readonly blocked: boolean;
  /** In words: how it is blocked, or why it is not. */
  readonly how: string;
}

/** A command line that starts a plugin process under a policy. */
export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly network: NetworkIsolation;
}

/** Folders that hold the UNIX sockets of system and desktop services (D-Bus, Docker, X11, the user's runtime dir). */
const SOCKET_FOLDERS = ['/run', '/var/run', '/tmp/.X11-unix', '/tmp/.ICE-unix'];

/** Which namespaces this machine lets us make, probed once per process. */
interface NamespaceSupport {
  readonly unshare: string | undefined;
  /** Flags that make user (if needed), network, mount and PID namespaces, or undefined when none work. */
  readonly flags: readonly string[] | undefined;
  readonly why: string;
}

let support: NamespaceSupport | undefined;

/**
 * Probes (once) whether `unshare` can give a process its own network, mount and PID namespaces: as an
 * ordinary user through a user namespace, or as root directly. Containers and some distributions forbid
 * both (Docker's default seccomp profile, Ubuntu's AppArmor restriction of unprivileged user namespaces);
 * then plugins still run under the permission model, and the network is reported as not isolated.
 * `KINEGRAPH_SANDBOX_NAMESPACES=off` skips the namespaces (for diagnosis).
 */
export function namespaceSupport(): NamespaceSupport {
  if (support) return support;
  if (process.platform !== 'linux') return (support = { unshare: undefined, flags: undefined, why: 'not Linux' });
  if (process.env.KINEGRAPH_SANDBOX_NAMESPACES === 'off')
    return (support = { unshare: undefined, flags: undefined, why: 'KINEGRAPH_SANDBOX_NAMESPACES=off' });
  const unshare = findProgram('unshare');
  if (!unshare) return (support = { unshare, flags: undefined, why: 'util-linux `unshare` is not installed' });
  const base = ['--net', '--mount', '--pid', '--fork', '--kill-child'];
  const variants = [['--user', '--map-root-user', ...base], ...(process.getuid?.() === 0 ? [base] : [])];
  let why = '';
  for (const flags of variants) {
    // The probe makes the same mounts a plugin process gets, so a machine that allows the namespaces but not
    // the mounts counts as one without them.
    const folders = SOCKET_FOLDERS.filter(isRealFolder);
    const script = (folders.length ? folders : ['/tmp']).map(hideCommand).join(' && ');
    const probe = spawnSync(unshare, [...flags, '--', '/bin/sh', '-c', script], {
      encoding: 'utf8',
      timeout: 10_000,
      env: {},
    });
    if (probe.status === 0) return (support = { unshare, flags, why: '' });
    why ||= (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim().split('\n')[0]!;
  }
  return (support = { unshare, flags: undefined, why: `namespaces are not allowed here (unshare: ${why})` });
}

/** Builds the command line that runs `script` with Node under `policy`. */
export function launchSpec(policy: SandboxPolicy, script: string, scriptArgs: readonly string[] = []): LaunchSpec {
  const nodeArgs = [...permissionFlags(policy), script, ...scriptArgs];
  const ns = policy.network ? undefined : namespaceSupport();
  if (!ns?.flags || !ns.unshare) {
    return withDeathSignal({
      command: process.execPath,
      args: nodeArgs,
      env: policy.env,
      cwd: policy.cwd,
      network: policy.network
        ? { blocked: false, how: 'granted (no network namespace)' }
        : { blocked: false, how: `not isolated: ${ns?.why ?? 'unknown'}` },
    });
  }
  // Hide the socket folders the plugin has no business in, unless a granted folder lies inside one.
  const granted = [...policy.read, ...policy.write];
  const hide = SOCKET_FOLDERS.filter((folder) => isRealFolder(folder) && !granted.some((p) => isInside(p, folder)));
  const mounts = hide.map(hideCommand).join(' && ');
  const script_ = `${mounts ? `${mounts} && ` : ''}exec "$0" "$@"`;
  return withDeathSignal({
    command: ns.unshare,
    args: [...ns.flags, '--', '/bin/sh', '-c', script_, process.execPath, ...nodeArgs],
    env: policy.env,
    cwd: policy.cwd,
    network: {
      blocked: true,
      how: `network namespace of its own (no interfaces)${hide.length ? `; UNIX sockets in ${hide.join(', ')} hidden` : ''}`,
    },
  });
}

let setpriv: string | null | undefined;

/**
 * On Linux, the plugin process dies with the thread that started it (`setpriv --pdeathsig KILL`, which
 * `unshare --kill-child` passes on): a runtime that is killed, or exits without closing, leaves no plugin
 * process behind, even one stuck in code that never yields (and so never sees its pipe close).
 */
function withDeathSignal(spec: LaunchSpec): LaunchSpec {
  if (process.platform !== 'linux') return spec;
  setpriv ??= findProgram('setpriv') ?? null;
  if (!setpriv) return spec;
  return { ...spec, command: setpriv, args: ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args] };
}

/** Node's permission-model flags for a policy. */
export function permissionFlags(policy: SandboxPolicy): string[] {
  return [
    '--experimental-permission',
    // The permission model and (for granted threads and programs) its own caution are expected here.
    '--disable-warning=ExperimentalWarning',
    '--disable-warning=SecurityWarning',
    // Node writes trace-event logs whatever the permissions; this pins them to the working folder (one the
    // plugin may write anyway) even when the plugin changes into another folder first.
    `--trace-event-file-pattern=${join(policy.cwd, `node_trace.${'$'}{rotation}.log`)}`,
    ...unique(policy.read).map((p) => `--allow-fs-read=${p}`),
    ...unique(policy.write).map((p) => `--allow-fs-write=${p}`),
    ...(policy.childProcess ? ['--allow-child-process'] : []),
    ...(policy.worker ? ['--allow-worker'] : []),
    ...(policy.addons ? ['--allow-addons'] : []),
    ...(policy.wasi ? ['--allow-wasi'] : []),
  ];
}

/** An empty, read-only tmpfs over a folder: its sockets are gone for the process. Folder names are ours. */
function hideCommand(folder: string): string {
  return `mount -t tmpfs -o size=4k,mode=555 kinegraph-hidden ${folder}`;
}

function unique(paths: readonly string[]): string[] {
  return [...new Set(paths)];
}

function isRealFolder(path: string): boolean {
  try {
    const info = lstatSync(path);
    return info.isDirectory() && !info.isSymbolicLink();
  } catch {
    return false;
  }
}

function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (existsSync(candidate)) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not executable here
    }
  }
  return undefined;
}
