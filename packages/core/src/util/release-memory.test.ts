import { describe, expect, test } from 'vitest';
import { ownsWholeBuffer, releaseMemory } from './release-memory.js';

const MB = 1024 * 1024;
const arrayBuffers = () => process.memoryUsage().arrayBuffers;
type WasmMemory = { readonly buffer: ArrayBuffer };

describe('releaseMemory', () => {
  test('gives the memory of arrays that span their buffer back at once, with no garbage collection', () => {
    const a = new Float32Array(16 * MB).fill(1);
    const b = new Uint8Array(32 * MB).fill(2);
    const held = arrayBuffers();
    releaseMemory(a, b, a, undefined); // twice the same, and nothing: both fine
    expect(held - arrayBuffers()).toBeGreaterThanOrEqual(96 * MB);
    expect([a.length, b.length, a.buffer.byteLength]).toEqual([0, 0, 0]);
    releaseMemory(a); // already released: nothing happens
  });

  test('leaves alone what it cannot free without freeing somebody else’s data', () => {
    const whole = new Uint8Array(8 * MB).fill(3);
    const part = whole.subarray(MB); // shares its buffer with `whole`
    const offset = new Uint8Array(whole.buffer, 1, 16);
    const pooled = Buffer.from('a small Buffer is a slice of a shared pool');
    const shared = new Int32Array(new SharedArrayBuffer(1024));
    shared[0] = 5;
    for (const view of [part, offset, pooled, shared]) expect(ownsWholeBuffer(view)).toBe(false);
    releaseMemory(part, offset, pooled, shared);
    expect([whole[0], part.length, offset[0], pooled.toString('utf8', 0, 7), shared[0]]).toEqual([
      3,
      7 * MB,
      3,
      'a small',
      5,
    ]);
  });

  test('a buffer V8 will not let go of (WebAssembly memory) is left to the collector, and the rest still go', () => {
    // Node's WebAssembly global, which this package's type library (no DOM) does not declare.
    const { Memory } = (
      globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => WasmMemory } }
    ).WebAssembly;
    const memory = new Memory({ initial: 1 });
    const view = new Uint8Array(memory.buffer);
    view[0] = 9;
    const other = new Uint8Array(MB).fill(1);
    expect(ownsWholeBuffer(view)).toBe(true);
    expect(() => releaseMemory(view, other)).not.toThrow();
    expect([view[0], other.length]).toEqual([9, 0]);
  });
});
