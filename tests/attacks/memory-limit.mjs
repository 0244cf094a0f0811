// Runs a process under a memory limit, so that "the server survives" means something, and measures it.
//
// What works where (Linux): a cgroup v2 folder (memory.max, memory.peak) when /sys/fs/cgroup is the unified
// hierarchy and ours can have children; else a cgroup v1 memory folder (memory.limit_in_bytes,
// memory.max_usage_in_bytes), nested in the cgroup this process is in, which is what the development
// container and CI (same kind of machine, as root) offer. `systemd-run --scope` needs systemd as PID 1,
// which containers lack; `prlimit --as` limits address space, which V8 reserves by the gigabyte, so Node
// cannot start under a useful one. Without a cgroup the process runs unlimited and `mechanism` says so.
// Peak and current memory are always read from /proc/<pid>/status (VmHWM, VmRSS): the process's own
// resident memory, without the page cache a cgroup also counts; VmHWM is reset through clear_refs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function ownCgroup(controller) {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controller === '' ? controllers === '' : controllers?.split(',').includes(controller)) return path;
  }
  return undefined;
}

/** Makes a cgroup with `limitBytes`; returns how to enter it, read it and remove it, or undefined. */
export function makeCgroup(name, limitBytes) {
  try {
    const v2 = ownCgroup('');
    if (v2 !== undefined && existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const dir = join('/sys/fs/cgroup', v2, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
      try {
        writeFileSync(join(dir, 'memory.swap.max'), '0');
      } catch {}
      return { mechanism: 'cgroup v2', dir, remove: () => rmdirSync(dir) };
    }
  } catch {}
  try {
    const v1 = ownCgroup('memory');
    const base = '/sys/fs/cgroup/memory';
    if (v1 !== undefined && existsSync(base)) {
      const dir = join(base, v1, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      try {
        writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      } catch {}
      return { mechanism: 'cgroup v1', dir, remove: () => rmdirSync(dir) };
    }
  } catch {}
  return undefined;
}

function status(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Spawns `command args` in a new cgroup limited to `limitBytes` (the child enters it before exec, so all it
 * allocates counts). Returns the child, the mechanism used, and memory readings of the child.
 */
export function spawnLimited(command, args, options, limitBytes) {
  const group = makeCgroup(`kinegraph-attacks-${process.pid}-${Date.now()}`, limitBytes);
  const procs = group ? join(group.dir, 'cgroup.procs') : undefined;
  const child = procs
    ? spawn('/bin/sh', ['-c', `echo $$ > "$0" && exec "$@"`, procs, command, ...args], options)
    : spawn(command, args, options);
  const pid = () => child.pid;
  return {
    child,
    mechanism: group?.mechanism ?? 'none (no cgroup could be made: unlimited)',
    limitBytes: group ? limitBytes : undefined,
    /** Resident memory now, bytes. */
    rss: () => status(pid(), 'VmRSS'),
    /** Peak resident memory since the last reset, bytes. */
    peak: () => status(pid(), 'VmHWM'),
    resetPeak: () => {
      try {
        writeFileSync(`/proc/${pid()}/clear_refs`, '5');
      } catch {}
    },
    /** Whether the cgroup killed something for lack of memory (v1: memory.failcnt / oom_control). */
    oomKills: () => {
      if (!group) return 0;
      try {
        const events = readFileSync(
          join(group.dir, group.mechanism === 'cgroup v2' ? 'memory.events' : 'memory.oom_control'),
          'utf8',
        );
        return Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0);
      } catch {
        return 0;
      }
    },
    removeGroup: () => {
      try {
        group?.remove();
      } catch {}
    },
  };
}
