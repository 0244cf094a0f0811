import { KinegraphError } from '../util/errors.js';

/**
 * A run that can be failed by an error escaping its nodes. An exception thrown outside a node's own
 * promise chain (a throw in a timer callback, an unawaited rejection) cannot be traced to its node, so
 * the runs in progress are failed instead of the process.
 */
export interface StrayErrorTarget {
  failByStrayError(error: unknown): void;
}

/** Runs in progress in this process (see {@link failActiveRuns}). */
const activeRuns = new Set<StrayErrorTarget>();

/** Makes `run` one that {@link failActiveRuns} fails, until the returned function is called. */
export function watchStrayErrors(run: StrayErrorTarget): () => void {
  activeRuns.add(run);
  return () => activeRuns.delete(run);
}

/**
 * Fails every run in progress with `NODE_UNCAUGHT_ERROR`, naming the nodes that were running. Hosts call it
 * from `uncaughtException`/`unhandledRejection` handlers (see `Runtime.create({ catchStrayErrors })`).
 * Returns how many runs were failed (0: the error did not come from a run).
 */
export function failActiveRuns(error: unknown): number {
  const runs = [...activeRuns];
  for (const run of runs) run.failByStrayError(error);
  return runs.length;
}

/**
 * The error a run fails with when `error` escaped while `running` were running: it names them all (the
 * culprit cannot be told apart) and is attributed to the first, or to `fallbackNodeId` when none ran.
 */
export function uncaughtNodeError(
  error: unknown,
  running: readonly string[],
  fallbackNodeId: string,
): { nodeId: string; error: KinegraphError } {
  const nodeId = running[0] ?? fallbackNodeId;
  const message = error instanceof Error ? error.message : String(error);
  const names = running.map((n) => `"${n}"`).join(', ') || '(none running)';
  return {
    nodeId,
    error: new KinegraphError(
      'NODE_UNCAUGHT_ERROR',
      `An error escaped node${running.length > 1 ? 's' : ''} ${names} outside its run: ${message}`,
      {
        nodeId,
        hint: 'A plugin threw from a callback it did not await (a timer or event handler). Report it to the plugin\u2019s authors.',
      },
    ),
  };
}
