import { describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import { onnx } from '../graph/onnx-proto.js';
import { applyInitializerOverrides, hashOverrides } from './initializers.js';

const model = buildGraph('weights', (g) => {
  const x = g.input('x', 'float32', [2]);
  const w = g.constant(new Float32Array([1, 2]), [2], 'float32', 'w');
  const k = g.constant(BigInt64Array.from([3n]), [1], 'int64', 'k');
  g.output('y', g.mul(x, w));
  g.output('k', k);
});

/** Float values of raw bytes (copied: decoded fields are Buffer views, whose slice() does not copy). */
const floats = (raw: Uint8Array) => Array.from(new Float32Array(new Uint8Array(raw).buffer));

interface DecodedInit {
  name: string;
  rawData: Uint8Array;
  dataLocation: number;
  externalData: { key: string; value: string }[];
}
interface Decoded {
  graph: { node: unknown[]; initializer: DecodedInit[] };
}
const decode = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes) as unknown as Decoded;

function initializer(bytes: Uint8Array, name: string): DecodedInit {
  return decode(bytes).graph.initializer.find((t) => t.name === name)!;
}

describe('applyInitializerOverrides', () => {
  test('replaces the named initializers raw data and keeps the rest', () => {
    const out = applyInitializerOverrides(model.bytes, { w: new Float32Array([5, 6]) });
    const w = initializer(out, 'w');
    expect(floats(w.rawData)).toEqual([5, 6]);
    expect(Array.from(initializer(out, 'k').rawData)).toEqual(Array.from(initializer(model.bytes, 'k').rawData));
    expect(decode(out).graph.node).toHaveLength(decode(model.bytes).graph.node.length);
  });

  test('reads a view of a larger buffer correctly', () => {
    const backing = new Float32Array([9, 7, 8, 9]);
    const out = applyInitializerOverrides(model.bytes, { w: backing.subarray(1, 3) });
    expect(floats(initializer(out, 'w').rawData)).toEqual([7, 8]);
  });

  test('lists unknown names and rejects dtype or size mismatches', () => {
    expect(() =>
      applyInitializerOverrides(model.bytes, { nope: new Float32Array(2), w2: new Float32Array(2) }),
    ).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_INITIALIZER',
        message: expect.stringMatching(/nope, w2.*Model initializers: w, k/),
      }),
    );
    expect(() => applyInitializerOverrides(model.bytes, { w: new Int32Array(2) })).toThrow(
      expect.objectContaining({ code: 'INITIALIZER_MISMATCH' }),
    );
    expect(() => applyInitializerOverrides(model.bytes, { k: BigInt64Array.from([1n, 2n]) })).toThrow(/shape \[1\]/);
  });

  test('refuses initializers stored as external data', () => {
    const m = decode(model.bytes);
    const w = m.graph.initializer.find((t) => t.name === 'w')!;
    w.dataLocation = 1;
    w.externalData = [{ key: 'location', value: 'weights.bin' }];
    const bytes = onnx.ModelProto.encode(m as unknown as Parameters<typeof onnx.ModelProto.encode>[0]).finish();
    expect(() => applyInitializerOverrides(bytes, { w: new Float32Array(2) })).toThrow(
      expect.objectContaining({ code: 'EXTERNAL_DATA_UNSUPPORTED' }),
    );
  });
});

describe('hashOverrides', () => {
  test('changes with any byte, name or array kind, not with key order', () => {
    const a = hashOverrides({ w: new Float32Array([1, 2]), k: new Int32Array([1]) });
    expect(hashOverrides({ k: new Int32Array([1]), w: new Float32Array([1, 2]) })).toBe(a);
    expect(hashOverrides({ w: new Float32Array([1, 2.0001]), k: new Int32Array([1]) })).not.toBe(a);
    expect(hashOverrides({ w: new Float32Array([1, 2]), k2: new Int32Array([1]) })).not.toBe(a);
    expect(hashOverrides({ w: new Float32Array([1, 2]), k: new Uint8Array(new Int32Array([1]).buffer) })).not.toBe(a);
    expect(hashOverrides(undefined)).toBe('none');
  });
});
