/** The check that a test left no tensor alive. */
import type { Runtime } from '../runtime.js';
import type { TensorStore } from '../tensor/types.js';
import { KinegraphError } from '../util/errors.js';

/**
 * Clears the runtime's output cache, waits until the inference worker has answered everything sent to it,
 * and throws `TENSOR_LEAK` unless no tensor is left alive (and none was released twice). Call it after a
 * file's runs, with a test runtime or a plain `Runtime`.
 *
 * A node cannot leak by itself: the handles it makes and does not return are freed when it ends, whatever it
 * retained. A leak is a handle made outside any node's scope and kept (by the test, or by code holding the
 * shared store), or an output the runtime lost track of: worth a bug report.
 */
export async function expectNoLeaks(target: Runtime | { readonly runtime: Runtime }): Promise<void> {
  const runtime = 'runtime' in target ? target.runtime : target;
  runtime.cache.clear();
  const store = await runtime.store();
  if (canWait(store)) await store.whenIdle();
  const stats = store.stats();
  const doubleReleases =
    'doubleReleases' in stats && typeof stats.doubleReleases === 'number' ? stats.doubleReleases : 0;
  if (stats.liveTensors === 0 && doubleReleases === 0) return;
  const problems = [
    ...(stats.liveTensors ? [`${stats.liveTensors} tensor(s), ${stats.liveBytes} bytes, still alive`] : []),
    ...(doubleReleases ? [`${doubleReleases} release(s) of a tensor already freed`] : []),
  ];
  throw new KinegraphError('TENSOR_LEAK', `After clearing the cache: ${problems.join('; ')}.`, {
    hint: 'Release, exactly once, every handle made with the store itself (not through a node context); nodes need not.',
  });
}

function canWait(store: TensorStore): store is TensorStore & { whenIdle(): Promise<void> } {
  return 'whenIdle' in store && typeof store.whenIdle === 'function';
}
