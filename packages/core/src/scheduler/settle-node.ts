import type { PreparedNode } from '../validate/validate.js';
import type { NodeInputs, SettledNode } from './dispatch.js';
import { createFileAccess } from './file-access.js';
import { checkNodeMemory, declareNode } from './memory-budget.js';
import { cacheKey, isCacheable, type OutputCache } from './output-cache.js';
import { type NodeRunOptions, runNode } from './run-node.js';
import type { RunState } from './run-state.js';
import { collectTensors, summarizeOutput } from './tensor-walk.js';

/** Where nodes' outputs may come from and where their files go. */
export interface SettleOptions extends NodeRunOptions {
  /** Outputs of earlier runs, by cache key. */
  readonly cache: OutputCache;
  /** Where outputs are written. */
  readonly outputFolder: string;
  /** Folders file-reading nodes may read from. */
  readonly allowedFolders: readonly string[];
}

/**
 * Settles one node whose inputs are ready: decides where its outputs come from, then gets them. This is
 * the one place where that is decided: today from the output cache when type, version, params, inputs and
 * fingerprint are unchanged, else by running the node (`run-node.ts`). Deciding otherwise for a node (not
 * running it at all, passing its inputs through, refusing it before it allocates) belongs here.
 */
export async function settleNode(
  node: PreparedNode,
  inputs: NodeInputs,
  run: RunState,
  options: SettleOptions,
): Promise<SettledNode> {
  const files = createFileAccess({
    allowedFolders: options.allowedFolders,
    outputFolder: options.outputFolder,
    nodeId: node.id,
  });
  const key = await cacheKey(node, inputs.keys, files);
  // Declared whether it runs or comes from the cache: its facts (a model pack's sizes) size its consumers.
  const declared = run.memory ? declareNode(node, inputs.values, run.memory) : undefined;
  const hit = isCacheable(node) ? options.cache.get(key) : undefined;
  if (hit) return reuseCached(node, key, hit, run);

  // Refused before it allocates anything, when what it declares does not fit what the run has left.
  const refusal = run.memory ? checkNodeMemory(node, declared, run.memory) : undefined;
  if (refusal) throw refusal;
  const nodeType = node.registered.definition.type;
  run.emit({ type: 'node:start', runId: run.runId, nodeId: node.id, nodeType });
  const started = performance.now();
  const { outputs, held, peakBytes } = await runNode(node, inputs.values, files, run, options);
  try {
    run.files.push(...files.written);
    run.executed.push(node.id);
    if (isCacheable(node)) options.cache.set(key, outputs);
  } catch (error) {
    for (const handle of held) run.release(handle);
    throw error;
  }
  const summaries: Record<string, ReturnType<typeof summarizeOutput>> = {};
  for (const [name, value] of Object.entries(outputs)) summaries[name] = summarizeOutput(value);
  run.emit({
    type: 'node:done',
    runId: run.runId,
    nodeId: node.id,
    nodeType,
    ms: performance.now() - started,
    outputs: summaries,
    memory: { ...(declared ? { declaredBytes: declared.bytes } : {}), peakBytes },
  });
  return { key, outputs, held };
}

// The run takes its own reference on each cached tensor, as it would on a node's fresh outputs.
async function reuseCached(
  node: PreparedNode,
  key: string,
  outputs: Record<string, unknown>,
  run: RunState,
): Promise<SettledNode> {
  const held = [...collectTensors(outputs).values()];
  if (held.length) await run.startStore();
  for (const handle of held) run.store!.retain(handle);
  run.cached.push(node.id);
  run.emit({ type: 'node:cached', runId: run.runId, nodeId: node.id, nodeType: node.registered.definition.type });
  return { key, outputs, held };
}
