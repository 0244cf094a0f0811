import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from './wire.js';

function decodeAll(bytes: Buffer[], chunk = 0): { messages: unknown[]; errors: string[] } {
  const messages: unknown[] = [];
  const errors: string[] = [];
  const decoder = new FrameDecoder(
    (m) => messages.push(m),
    (e) => errors.push(e),
  );
  const all = Buffer.concat(bytes);
  if (chunk === 0) decoder.push(all);
  else for (let i = 0; i < all.length; i += chunk) decoder.push(all.subarray(i, i + chunk));
  return { messages, errors };
}

describe('plugin channel frames', () => {
  it('carry JSON and typed arrays of every kind, whole or split into chunks of any size', () => {
    const message = {
      t: 'req',
      args: [
        Float32Array.of(1.5, -2),
        new BigInt64Array([3n, -4n]),
        Uint8Array.of(255, 0),
        Buffer.from('bytes'),
        new Uint16Array(new ArrayBuffer(16), 2, 3).fill(7),
      ],
      nested: { data: Int32Array.of(-1), text: 'é\n' },
    };
    for (const chunk of [0, 1, 7]) {
      const { messages, errors } = decodeAll([encodeFrame(message), encodeFrame({ second: true })], chunk);
      expect(errors).toEqual([]);
      expect(messages).toHaveLength(2);
      const [first] = messages as [{ args: unknown[]; nested: { data: Int32Array; text: string } }];
      expect(first.args[0]).toEqual(Float32Array.of(1.5, -2));
      expect(first.args[1]).toEqual(new BigInt64Array([3n, -4n]));
      expect(first.args[2]).toEqual(Uint8Array.of(255, 0));
      expect(Buffer.from(first.args[3] as Uint8Array).toString()).toBe('bytes');
      expect(first.args[4]).toEqual(Uint16Array.of(7, 7, 7));
      expect(first.nested).toEqual({ data: Int32Array.of(-1), text: 'é\n' });
      expect(messages[1]).toEqual({ second: true });
    }
  });

  it('reports garbage once and ignores the rest, without throwing', () => {
    const garbage = Buffer.from('this is not a frame at all, just bytes a plugin wrote');
    const { messages, errors } = decodeAll([encodeFrame({ ok: 1 }), garbage, encodeFrame({ ok: 2 })]);
    expect(messages).toEqual([{ ok: 1 }]);
    expect(errors).toHaveLength(1);
  });

  it.each([
    ['a length past the limit', () => Buffer.from([0xff, 0xff, 0xff, 0x7f])],
    [
      'JSON that does not parse',
      () => {
        const frame = encodeFrame({ a: 'xx' });
        frame[frame.length - 1] = 0x7b; // the closing brace becomes an opening one
        return frame;
      },
    ],
    ['an attachment that does not exist', () => encodeFrame({ __kinegraphBytes: 3, type: 'Float32Array' })],
    [
      'an attachment of a type not allowed',
      () => {
        const frame = encodeFrame({ v: Uint8Array.of(1, 2, 3, 4) });
        return Buffer.from(frame.toString('latin1').replace('Uint8Array', 'DataView__'), 'latin1');
      },
    ],
    [
      'an attachment that is not a whole number of elements',
      () => {
        const frame = encodeFrame({ v: Uint8Array.of(1, 2, 3) });
        return Buffer.from(frame.toString('latin1').replace('"Uint8Array"', '"Int16Array"'), 'latin1');
      },
    ],
  ])('refuses %s', (_name, make) => {
    const { messages, errors } = decodeAll([make()]);
    expect(messages).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('refuses to encode what JSON cannot carry', () => {
    expect(() => encodeFrame({ n: 1n })).toThrow();
  });
});
