import { describe, expect, test } from 'vitest';
import { buildGraph } from './builder.js';
import { int64ToNumber, onnx } from './onnx-proto.js';

type Int64 = number | { toNumber(): number };
/** The decoded fields these tests read (protobufjs fills repeated fields and defaults on decode). */
interface Decoded {
  irVersion: Int64;
  opsetImport: { domain: string; version: Int64 }[];
  graph: {
    input: {
      name: string;
      type: { tensorType: { shape?: { dim: { dimParam: string; dimValue: Int64 }[] } | null } };
    }[];
    node: {
      opType: string;
      input: string[];
      output: string[];
      attribute: { name: string; i: Int64; ints: Int64[]; s: Uint8Array }[];
    }[];
    initializer: { name: string }[];
  };
}

function decode(bytes: Uint8Array): Decoded {
  return onnx.ModelProto.decode(bytes) as unknown as Decoded;
}

describe('buildGraph', () => {
  test('writes an IR 8 / opset 17 model with symbolic and open input shapes', () => {
    const g = buildGraph('mix', (g) => {
      const x = g.input('x', 'float32', ['B', 4, '?']);
      const y = g.input('y', 'float32');
      g.output('out', g.add(x, g.mul(y, 0.5)));
    });
    expect(g.bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(g.bytes)).toBe(false); // a Buffer may share a pooled slab: unsafe to transfer
    const m = decode(g.bytes);
    expect(int64ToNumber(m.irVersion)).toBe(8);
    expect(m.opsetImport.map((o) => [o.domain, int64ToNumber(o.version)])).toEqual([['', 17]]);
    const [x, y] = m.graph.input;
    const dims = x!.type.tensorType.shape!.dim;
    expect(dims.map((d) => d.dimParam || int64ToNumber(d.dimValue) || null)).toEqual(['B', 4, null]);
    expect(y!.type.tensorType.shape).toBeFalsy(); // any rank
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Mul', 'Add', 'Identity']);
    expect(m.graph.initializer).toHaveLength(1); // the 0.5 scalar
    expect(g.outputs).toEqual([{ name: 'out', dtype: 'float32', dims: undefined }]);
  });

  test('tracks dtypes through comparisons and casts, and encodes typed attributes', () => {
    const g = buildGraph('attrs', (g) => {
      const x = g.input('x', 'float32', [2, 3]);
      const mask = g.greater(x, 0);
      expect(mask.dtype).toBe('bool');
      expect(g.cast(mask, 'int32').dtype).toBe('int32');
      g.output('m', g.reduceMean(g.where(mask, x, 0), [1], false));
      g.output('r', g.resize(x, { scales: [1, 2], mode: 'linear' }));
      g.output('t', g.transpose(x, [1, 0]));
    });
    const nodes = decode(g.bytes).graph.node;
    const rm = nodes.find((n) => n.opType === 'ReduceMean')!;
    expect(rm.attribute.map((a) => [a.name, a.ints.map(int64ToNumber), int64ToNumber(a.i)])).toEqual([
      ['axes', [1], 0],
      ['keepdims', [], 0],
    ]);
    const rs = nodes.find((n) => n.opType === 'Resize')!;
    expect(rs.input[1]).toBe(''); // roi omitted
    expect(Object.fromEntries(rs.attribute.map((a) => [a.name, new TextDecoder().decode(a.s)]))).toEqual({
      mode: 'linear',
      coordinate_transformation_mode: 'half_pixel',
    });
    expect(g.outputs.map((o) => o.dtype)).toEqual(['float32', 'float32', 'float32']);
  });

  test('split has one output per part; named constants keep their names', () => {
    const g = buildGraph('parts', (g) => {
      const x = g.input('x', 'float32');
      const w = g.constant(new Float32Array([1, 2]), [2], 'float32', 'weights');
      const [a, b, c] = g.split(x, 0, 3);
      g.output('a', a!);
      g.output('b', g.mul(b!, w));
      g.output('c', c!);
    });
    const m = decode(g.bytes);
    expect(m.graph.node.find((n) => n.opType === 'Split')!.output).toHaveLength(3);
    expect(m.graph.initializer.map((t) => t.name)).toEqual(['weights']);
  });

  test('rejects duplicate names, unknown output dtypes, bad constants and empty graphs', () => {
    expect(() =>
      buildGraph('dup', (g) => {
        g.input('x', 'float32');
        g.input('x', 'float32');
      }),
    ).toThrow(/already used/);
    expect(() =>
      buildGraph('raw', (g) => {
        const [v] = g.op('Custom', [null]);
        g.output('y', v!);
      }),
    ).toThrow(/unknown dtype/);
    expect(() =>
      buildGraph('bad', (g) => {
        g.constant([1, 2, 3], [2, 2]);
      }),
    ).toThrow(/3 elements/);
    expect(() => buildGraph('empty', () => {})).toThrow(/no outputs/);
  });
});
