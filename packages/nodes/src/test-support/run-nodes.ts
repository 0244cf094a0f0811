/**
 * A Runtime harness for node tests: one runtime (one inference worker) per test file, a temp folder with
 * `inputs/` (readable) and `out/` (the output folder), and helpers to run a workflow and look at events.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import type { AnyNodeDefinition, Preview, TensorStore } from '@kinegraph/core/sdk';
import { probeNodes } from './probe-nodes.js';

/** Loose event shape (core's RunEvent, without importing its internals). */
export interface AnyEvent {
  readonly type: string;
  readonly nodeId?: string;
  readonly preview?: Preview;
  readonly error?: { code: string; message: string; nodeId?: string; hint?: string };
  readonly files?: string[];
  readonly outputs?: Record<string, { kind: string; value?: unknown }>;
  readonly [key: string]: unknown;
}

/** The outcome of one run. */
export interface RunResult {
  readonly events: AnyEvent[];
  /** The terminal event (`run:done`, `run:error` or `run:cancelled`). */
  readonly end: AnyEvent;
  /** The error of a failed run, with code, message, nodeId and hint. */
  readonly error: AnyEvent['error'];
  /** Files the run wrote. */
  readonly files: string[];
  /** The `value` of a node's text/number output in its `node:done` event. */
  output(nodeId: string, port: string): unknown;
}

/** A runtime with the given nodes (plus the probe nodes) and a scratch folder. */
export interface NodeHarness {
  readonly runtime: Runtime;
  /** Scratch root; `inputs` and `out` are inside it. */
  readonly root: string;
  /** Readable folder for fixtures (the run's only allowed folder besides `out`). */
  readonly inputs: string;
  /** The run's output folder. */
  readonly out: string;
  run(nodes: Record<string, unknown>, options?: { allowedFolders?: readonly string[] }): Promise<RunResult>;
  /** The worker's tensor counters. */
  stats(): Promise<ReturnType<TensorStore['stats']>>;
  /** Clears the output cache and waits until the store is idle, then returns live tensors (should be 0). */
  liveTensorsAfterClear(): Promise<number>;
  close(): Promise<void>;
}

/** A workflow document from a node map. */
export function workflow(nodes: Record<string, unknown>): { format: string; nodes: Record<string, unknown> } {
  return { format: 'kinegraph/workflow@1', nodes };
}

/** Creates a harness; call `close()` in `afterAll`. */
export async function createHarness(nodes: readonly AnyNodeDefinition[]): Promise<NodeHarness> {
  const runtime = await Runtime.create({
    plugins: [{ name: 'test-io', nodes: [...nodes, ...probeNodes] }],
    threads: 1,
  });
  const root = await mkdtemp(join(tmpdir(), 'kg-io-'));
  const inputs = join(root, 'inputs');
  const out = join(root, 'out');
  await mkdir(inputs);
  await mkdir(out);
  const store = async () => (await runtime.store()) as TensorStore & { whenIdle(): Promise<void> };
  return {
    runtime,
    root,
    inputs,
    out,
    async run(nodeMap, options = {}) {
      // Subscribed by hand: rxjs is core's dependency, not this package's.
      const events = await new Promise<AnyEvent[]>((resolve, reject) => {
        const seen: AnyEvent[] = [];
        runtime
          .run(workflow(nodeMap), {
            outputFolder: out,
            allowedFolders: options.allowedFolders ?? [inputs],
            concurrency: 1,
          })
          .subscribe({
            next: (event) => seen.push(event as unknown as AnyEvent),
            error: reject,
            complete: () => resolve(seen),
          });
      });
      const end = events.at(-1)!;
      return {
        events,
        end,
        error: end.error,
        files: end.files ?? [],
        output(nodeId, port) {
          const done = events.find((e) => e.type === 'node:done' && e.nodeId === nodeId);
          return done?.outputs?.[port]?.value;
        },
      };
    },
    async stats() {
      return (await store()).stats();
    },
    async liveTensorsAfterClear() {
      runtime.cache.clear();
      const s = await store();
      await s.whenIdle();
      return s.stats().liveTensors;
    },
    async close() {
      await runtime.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
