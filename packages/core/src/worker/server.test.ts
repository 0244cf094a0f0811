// The worker's request handler, driven in this thread (no worker): what it does with the memory of the
// tensors it frees. An idle worker thread does not collect garbage, so memory it merely drops stays taken
// for as long as it idles; these tests call no garbage collection and see the memory come back anyway.
import { afterEach, describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import type { LoadResult, WorkerRequest, WorkerResponse } from './protocol.js';
import { InferenceServer } from './server.js';

const MB = 1024 * 1024;
/** 128 MB of float32: far above what the allocator's other traffic moves during a test. */
const N = 32 * MB;

/** y = a + b. */
const add = buildGraph('add', (g) => {
  const a = g.input('a', 'float32', ['N']);
  const b = g.input('b', 'float32', ['N']);
  g.output('y', g.add(a, b));
});

/** ArrayBuffer memory this thread's allocator has handed out and not had back (garbage included). */
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

let server: InferenceServer | undefined;
let nextRid = 1;
const waiting = new Map<number, (r: WorkerResponse) => void>();

function start(): InferenceServer {
  server = new InferenceServer('cpu', 1, (msg) => waiting.get(msg.rid)?.(msg));
  return server;
}

/** Sends a request that expects an answer; resolves with its result, rejects with its error. */
function call<T>(make: (rid: number) => WorkerRequest): Promise<T> {
  const rid = nextRid++;
  return new Promise<T>((resolve, reject) => {
    waiting.set(rid, (r) => {
      waiting.delete(rid);
      if (r.ok) resolve(r.result as T);
      else reject(Object.assign(new Error(r.error.message), r.error));
    });
    server!.handle(make(rid));
  });
}

const upload = (id: number, data: Float32Array) =>
  call<null>((rid) => ({ type: 'upload', rid, id, dtype: 'float32', dims: [data.length], data }));

afterEach(async () => {
  if (server) await call<null>((rid) => ({ type: 'shutdown', rid }));
  server = undefined;
});

describe('memory of freed tensors', () => {
  test('an uploaded tensor released by the main thread gives its memory back at once', async () => {
    start();
    const data = new Float32Array(N).fill(1);
    await upload(1, data);
    const held = arrayBuffers();
    server!.handle({ type: 'release', ids: [1] });
    expect(held - arrayBuffers()).toBeGreaterThanOrEqual(N * 4);
    expect(data.length).toBe(0); // detached: the worker owned it, and nothing may read it now
  });

  test('a run output released gives its memory back at once; inputs pinned by a queued run wait for it', async () => {
    start();
    const model = await call<LoadResult>((rid) => ({ type: 'load', rid, source: add.bytes, options: {} }));
    const start0 = arrayBuffers();
    await upload(1, new Float32Array(N).fill(1));
    await upload(2, new Float32Array(N).fill(2));
    await call((rid) => ({
      type: 'run',
      rid,
      model: model.id,
      feeds: { a: 1, b: 2 },
      outputs: [{ name: 'y', id: 3 }],
    }));
    // Read back as a copy: the copy stays good after the tensor it came from is freed.
    const y = await call<Float32Array>((rid) => ({ type: 'read', rid, id: 3 }));
    const before = arrayBuffers();
    server!.handle({ type: 'release', ids: [3] });
    expect(before - arrayBuffers()).toBeGreaterThanOrEqual(N * 4);
    expect([y.length, y[0], y[N - 1]]).toEqual([N, 3, 3]);

    // Both released while a queued run still needs one of them: the other goes at once, the one the run
    // reads is kept until the run is done (and the run sees its data).
    const running = call((rid) => ({
      type: 'run',
      rid,
      model: model.id,
      feeds: { a: 1, b: 1 },
      outputs: [{ name: 'y', id: 4 }],
    }));
    const pinned = arrayBuffers();
    server!.handle({ type: 'release', ids: [1, 2] });
    expect(pinned - arrayBuffers()).toBeGreaterThanOrEqual(N * 4);
    expect(pinned - arrayBuffers()).toBeLessThan(2 * N * 4);
    await running;
    const doubled = await call<Float32Array>((rid) => ({ type: 'read', rid, id: 4 }));
    expect([doubled[0], doubled[N - 1]]).toEqual([2, 2]);
    server!.handle({ type: 'release', ids: [4] });
    // Everything the worker was given or made is back; what is left is the two copies this test holds.
    expect(arrayBuffers() - start0).toBeLessThan(2 * N * 4 + 16 * MB);
    expect(await call((rid) => ({ type: 'inspect', rid }))).toMatchObject({ tensors: 0 });
  });
});
