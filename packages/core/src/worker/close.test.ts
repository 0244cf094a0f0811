// Closing a store while its worker is inside ONNX Runtime. Terminating the worker's thread there aborts the
// whole process (onnxruntime-node throws a C++ Napi::Error into a dying environment: exit 134), which here
// would kill the test process itself; closing must wait for the call in flight instead.
import { describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import { createTestStore } from '../testing/index.js';

const N = 384;
/** A chain of N×N MatMuls: tens of milliseconds inside ONNX Runtime per run. */
const chain = buildGraph('close-chain', (g) => {
  let x = g.input('x', 'float32', [N, N]);
  for (let i = 0; i < 12; i++) x = g.matmul(x, x);
  g.output('y', x);
});
/** Enough weights that creating its session takes a while. */
const weights = new Float32Array(512 * 512).fill(0.001);
const large = buildGraph('close-large', (g) => {
  let x = g.input('x', 'float32', [1, 512]);
  for (let i = 0; i < 16; i++)
    x = g.matmul(
      x,
      g.constant(
        weights.map((w) => w + i),
        [512, 512],
      ),
    );
  g.output('y', x);
});

describe('closing a store while ONNX Runtime is busy', () => {
  test('during runs: pending requests fail with STORE_CLOSED, close() resolves, the process lives on', async () => {
    for (let round = 0; round < 5; round++) {
      const store = await createTestStore();
      const model = await store.loadModel(chain.bytes);
      const x = await store.upload(new Float32Array(N * N).fill(0.01), [N, N]);
      const runs = [store.run(model, { x }), store.run(model, { x })].map((run) =>
        run.then(
          () => 'done',
          (error: { code?: string }) => error.code,
        ),
      );
      const closing = store.close();
      expect(store.close()).toBe(closing); // once, however often it is asked
      await closing;
      expect(await Promise.all(runs)).toEqual(['STORE_CLOSED', 'STORE_CLOSED']);
      await expect(store.upload(new Float32Array(1), [1])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    }
  });

  test('while a session is being created (closed after 0 to 40 ms)', async () => {
    for (const ms of [0, 2, 5, 10, 20, 40]) {
      const store = await createTestStore();
      const loading = store.loadModel(large.bytes).then(
        () => 'loaded',
        (error: { code?: string }) => error.code,
      );
      await new Promise((resolve) => setTimeout(resolve, ms));
      await store.close();
      // Closed before the session was made, or after: either way, never an abort.
      expect(['loaded', 'STORE_CLOSED']).toContain(await loading);
    }
  });
});
