/**
 * A plugin package that runs in processes of its own. The runtime registers proxies of its node types
 * (plain data plus `run`, `fingerprint` and `migrate` functions that forward to the plugin process), so
 * validation and the scheduler treat them like any node.
 *
 * One process per package at a time, started on first use and reused by later calls of the same grants:
 * the permission model fixes a process's folders when it starts, so a run with other folders (another
 * output folder) starts a fresh process and the old one is stopped once idle. A crashed process fails its
 * calls with `PLUGIN_CRASHED` and is started afresh on the next call.
 */

import { join } from 'node:path';
import type { TObject } from '@sinclair/typebox';
import type { FileAccess } from '../sdk/files.js';
import type { NodeMemory } from '../sdk/memory.js';
import type { AnyNodeDefinition, NodeContext, NodeMigration } from '../sdk/node.js';
import type { KinegraphPlugin } from '../sdk/plugin.js';
import type { ModelHandle } from '../tensor/types.js';
import { cacheFolder, cacheRoot } from '../util/cache-dir.js';
import { KinegraphError } from '../util/errors.js';
import { CallBroker } from './call-broker.js';
import { descriptionKey, readDescription, writeDescription } from './description-cache.js';
import { descriptionProblem } from './description-check.js';
import {
  corePackageDir,
  ensureFolder,
  existingReal,
  isGrantable,
  isInside,
  isWritable,
  realOrSelf,
  safeName,
} from './folders.js';
import type { PluginGrants } from './grants.js';
import { syncWorkerScript } from './host-script.js';
import { PluginProcess } from './plugin-process.js';
import type { NodeDescriptionWire, PluginDescriptionWire, WireError } from './protocol.js';
import { packageReadPaths } from './read-paths.js';
import { launchSpec, type NetworkIsolation, type SandboxPolicy } from './sandbox.js';
import { SyncBridge } from './sync-bridge.js';

/** What every isolated plugin of a runtime shares. */
export interface IsolationEnvironment {
  /** `dist/plugin-host.js` of this core. */
  readonly hostScript: string;
  /** Where plugin output lines go (stdout and stderr of plugin processes, prefixed with the plugin). */
  readonly log: (line: string) => void;
}

/** A plugin package as discovery found it. */
export interface IsolatedPackage {
  readonly package: string;
  readonly dir: string;
  readonly entries: readonly string[];
}

/** Longest a migration chain may take to answer (the first call of a runtime also starts a process). */
const MIGRATION_TIMEOUT_MS = 60_000;
/** Longest a `memory` declaration may take to answer (idem). */
const MEMORY_TIMEOUT_MS = 30_000;

/** The run folders a process is started for (`context.files` of the calls it serves). */
type RunFolders = Pick<FileAccess, 'allowedFolders' | 'outputFolder'>;

/** One isolated plugin package: its grants, its processes, and the proxies of its nodes. */
export class IsolatedPlugin {
  readonly #pkg: IsolatedPackage;
  readonly #grants: PluginGrants;
  readonly #env: IsolationEnvironment;
  readonly #packagePaths: string[];
  readonly #cacheDir: string | undefined;
  #current: { key: string; request: string; process: PluginProcess; ready: Promise<PluginProcess> } | undefined;
  readonly #models = new WeakMap<PluginProcess, Map<string, ModelHandle>>();
  readonly #migrations = new Map<string, unknown>();
  #network: NetworkIsolation | undefined;
  readonly #sync: SyncBridge;
  /** Every process of this plugin not yet exited (the current one, and retired ones finishing a call). */
  readonly #processes = new Set<PluginProcess>();

  constructor(pkg: IsolatedPackage, grants: PluginGrants, env: IsolationEnvironment) {
    this.#pkg = pkg;
    this.#grants = grants;
    this.#env = env;
    const core = corePackageDir(env.hostScript);
    this.#packagePaths = [...new Set([...packageReadPaths(pkg.dir), core, realOrSelf(core)])];
    const cache = cacheRoot() === undefined ? undefined : cacheFolder(join('plugins', safeName(pkg.package)));
    this.#cacheDir = cache;
    this.#sync = new SyncBridge(pkg, () => launchSpec(this.#policy(undefined), this.#env.hostScript), syncWorkerScript);
  }

  /** The package name. */
  get name(): string {
    return this.#pkg.package;
  }

  get grants(): PluginGrants {
    return this.#grants;
  }

  /** How its processes are kept off the network (probing the machine once, if no process has said yet). */
  get network(): NetworkIsolation {
    this.#network ??= launchSpec(this.#policy(undefined), this.#env.hostScript).network;
    return this.#network;
  }

  /** Folders its processes may always read: its package and dependencies (and the host's own code). */
  get packagePaths(): readonly string[] {
    return this.#packagePaths;
  }

  /**
   * Loads the package in a process of its own and returns, per entry file, a plugin whose nodes are
   * proxies, or the error that entry gave. The process is stopped afterwards: runs start their own. An
   * unchanged package is described from the cache (`description-cache.ts`) without a process.
   */
  async describe(): Promise<Array<{ entry: string; plugin?: KinegraphPlugin; error?: WireError }>> {
    const key = descriptionKey({
      packageDir: this.#pkg.dir,
      entries: this.#pkg.entries,
      readPaths: this.#packagePaths,
      hostScript: this.#env.hostScript,
      grants: this.#grants,
    });
    let result = key === undefined ? undefined : readDescription(key);
    if (!result) {
      const process = await this.#processFor(undefined);
      result = await process.load(this.#pkg.dir, this.#pkg.entries);
      this.#retire();
      if (key !== undefined) writeDescription(key, result);
    }
    return result.entries.map(({ entry, plugin, error }) => {
      if (error || !plugin) return { entry, error: error ?? { name: 'Error', message: 'no plugin' } };
      const problem = descriptionProblem(plugin);
      if (problem)
        return {
          entry,
          error: { name: 'KinegraphError', code: 'PLUGIN_INVALID', message: `${this.name}: ${problem}.` },
        };
      return { entry, plugin: this.#proxyPlugin(plugin) };
    });
  }

  /** Starts (in the background) the process a run with these folders will use. */
  prepare(folders: RunFolders): void {
    this.#processFor(folders).catch(() => undefined); // a failed start is reported by the call that needs it
  }

  /** Stops its processes, retired ones still finishing (or stuck in) a call included. */
  async close(): Promise<void> {
    this.#sync.close();
    this.#current = undefined;
    const processes = [...this.#processes];
    this.#processes.clear();
    await Promise.all(processes.map((p) => p.kill('was stopped because the runtime closed')));
  }

  #retire(): void {
    this.#current?.process.retire();
    this.#current = undefined;
  }

  #proxyPlugin(description: PluginDescriptionWire): KinegraphPlugin {
    return {
      name: description.name,
      ...(description.version ? { version: description.version } : {}),
      ...(description.portTypes ? { portTypes: description.portTypes } : {}),
      nodes: description.nodes.map((node) => this.#proxyNode(node)),
    };
  }

  #proxyNode(node: NodeDescriptionWire): AnyNodeDefinition {
    const migrate: Record<number, NodeMigration> = {};
    for (const version of node.migrations) migrate[version] = (state) => this.#migrate(node.type, version, state);
    return {
      type: node.type,
      version: node.version,
      title: node.title,
      category: node.category,
      description: node.description,
      params: node.params as unknown as TObject,
      inputs: node.inputs,
      outputs: node.outputs,
      ...(node.cache === false ? { cache: false } : {}),
      ...(node.migrations.length ? { migrate } : {}),
      ...(node.memory ? { memory: (args: unknown) => this.#memory(node.type, args) } : {}),
      ...(node.fingerprint
        ? {
            fingerprint: (params: unknown, { files }: { files: FileAccess }) =>
              this.#fingerprint(node.type, params, files),
          }
        : {}),
      run: ({ params, inputs, context }) => this.#run(node.type, params, inputs, context),
    };
  }

  async #run(type: string, params: unknown, inputs: unknown, context: NodeContext): Promise<Record<string, unknown>> {
    const process = await this.#processFor(context.files);
    let broker: CallBroker | undefined;
    const value = await process.call(
      {
        op: 'run',
        type,
        nodeId: context.nodeId,
        params,
        inputs,
        workflow: context.workflow,
        previews: context.previews,
        device: context.tensors.device,
        files: { allowedFolders: context.files.allowedFolders, outputFolder: context.files.outputFolder },
        ...(context.budget ? { budget: { bytes: context.budget.bytes, available: context.budget.available() } } : {}),
      },
      (callId) =>
        (broker = new CallBroker({
          plugin: this.name,
          nodeId: context.nodeId,
          type,
          context,
          files: context.files,
          inputs,
          mayRead: (path) => this.#mayRead(path, context.files),
          mayWriteOutput: this.#mayWriteOutput(context.files),
          models: this.#modelsOf(process),
          write: (callback, tmpPath) =>
            process
              .call({ op: 'write', parent: callId, nodeId: context.nodeId, callback, tmpPath }, undefined)
              .then(() => undefined),
        })),
      context.signal,
    );
    return (await broker!.adoptOutputs(value)) as Record<string, unknown>;
  }

  async #fingerprint(type: string, params: unknown, files: FileAccess): Promise<string> {
    const process = await this.#processFor(files);
    const nodeId = '';
    const value = await process.call(
      {
        op: 'fingerprint',
        type,
        nodeId,
        params,
        files: { allowedFolders: files.allowedFolders, outputFolder: files.outputFolder },
      },
      () =>
        new CallBroker({
          plugin: this.name,
          nodeId,
          type,
          context: undefined,
          files,
          inputs: undefined,
          mayRead: (path) => this.#mayRead(path, files),
          mayWriteOutput: false,
          models: this.#modelsOf(process),
          write: () => Promise.reject(new Error('no writes while fingerprinting')),
        }),
    );
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  /**
   * One migration step, answered synchronously (validation waits for it) through the plugin's sync bridge.
   * Its process runs the chain from `from` at once; later steps of the chain are answered from what it
   * returned.
   */
  #migrate(type: string, from: number, state: Parameters<NodeMigration>[0]): ReturnType<NodeMigration> {
    const key = JSON.stringify([type, from, state]);
    if (!this.#migrations.has(key)) {
      const answer = this.#sync.call({ op: 'migrate', type, from, node: state }, MIGRATION_TIMEOUT_MS) as {
        states?: unknown;
      } | null;
      const states = Array.isArray(answer?.states) ? answer.states : [];
      if (!states.length)
        throw new KinegraphError('MIGRATION_FAILED', `${type} has no migration step from version ${from}.`);
      let input: unknown = state;
      states.forEach((next, i) => {
        this.#migrations.set(JSON.stringify([type, from + i, input]), next);
        input = next;
      });
    }
    return structuredClone(this.#migrations.get(key)) as ReturnType<NodeMigration>;
  }

  /** A node's `memory` declaration, answered synchronously (memory planning waits for it). */
  #memory(type: string, args: unknown): NodeMemory | undefined {
    const answer = this.#sync.call({ op: 'memory', type, args }, MEMORY_TIMEOUT_MS);
    return (answer ?? undefined) as NodeMemory | undefined;
  }

  #modelsOf(process: PluginProcess): Map<string, ModelHandle> {
    let models = this.#models.get(process);
    if (!models) this.#models.set(process, (models = new Map()));
    return models;
  }

  #mayWriteOutput(files: RunFolders): boolean {
    return isGrantable(files.outputFolder) && isWritable(files.outputFolder);
  }

  #mayRead(realPath: string, files: RunFolders): boolean {
    const folders = [...this.#readFolders(files), ...(this.#cacheDir ? [this.#cacheDir] : [])];
    return folders.some((folder) => isInside(realPath, folder));
  }

  /** Folders the plugin may read for a run: its package, its read grants, the run's grantable folders. */
  #readFolders(files: RunFolders | undefined): string[] {
    const run = files ? files.allowedFolders.filter(isGrantable).flatMap(existingReal) : [];
    return [...this.#packagePaths, ...this.#grants.read.flatMap(existingReal), ...run];
  }

  #policy(files: RunFolders | undefined): SandboxPolicy {
    const cache = this.#cacheDir ? ensureFolder(this.#cacheDir) : undefined;
    const output = files && this.#mayWriteOutput(files) ? ensureFolder(files.outputFolder) : undefined;
    const env: Record<string, string> = { KINEGRAPH_CACHE: cache ?? 'off' };
    for (const name of ['PATH', 'LANG', 'LC_ALL', 'TZ', 'NODE_ENV', ...this.#grants.env]) {
      const value = process.env[name];
      if (value !== undefined && name !== 'KINEGRAPH_CACHE') env[name] = value;
    }
    return {
      read: [...this.#readFolders(files), ...(cache ? [cache] : []), ...(output ? [output] : [])],
      write: [...(output ? [output] : []), ...this.#grants.write.flatMap(existingReal), ...(cache ? [cache] : [])],
      childProcess: this.#grants.childProcess,
      worker: this.#grants.worker,
      addons: this.#grants.addons,
      wasi: this.#grants.wasi,
      network: this.#grants.network,
      env,
      // Node writes trace-event logs into its working folder whatever the permissions (sandbox.ts pins
      // them there): keep it one the plugin may write anyway.
      cwd: cache ?? output ?? this.#pkg.dir,
    };
  }

  /** The process for these run folders (`undefined`: no run, as for describing), started and loaded. */
  #processFor(files: RunFolders | undefined): Promise<PluginProcess> {
    // The same folders as the running process's: no need to look at the disk again (every call asks).
    const request = JSON.stringify(files ? [files.allowedFolders, files.outputFolder] : null);
    const current = this.#current;
    if (current?.request === request && current.process.alive) return current.ready;
    const policy = this.#policy(files);
    const key = JSON.stringify([[...policy.read].sort(), [...policy.write].sort()]);
    if (current && current.key === key && current.process.alive) {
      this.#current = { ...current, request };
      return current.ready;
    }
    current?.process.retire();
    const launch = launchSpec(policy, this.#env.hostScript);
    this.#network = launch.network;
    const child = new PluginProcess(this.name, key, launch, (line) => this.#env.log(`[${this.name}] ${line}`));
    this.#processes.add(child);
    void child.exited.then(() => this.#processes.delete(child));
    const ready = child.load(this.#pkg.dir, this.#pkg.entries).then((result) => {
      const failed = result.entries.find((e) => e.error)?.error;
      if (failed)
        throw new KinegraphError(
          failed.code ?? 'PLUGIN_LOAD_FAILED',
          failed.message,
          failed.hint ? { hint: failed.hint } : {},
        );
      return child;
    });
    ready.catch(() => {
      if (this.#current?.process === child) this.#current = undefined;
    });
    this.#current = { key, request, process: child, ready };
    return ready;
  }
}
