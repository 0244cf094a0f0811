/**
 * The byte format of the channel between the runtime and a plugin process: length-prefixed frames of
 * JSON plus raw binary attachments for typed arrays (tensor uploads and reads, preview images).
 *
 * Why not Node's own IPC channel: its JSON mode throws an uncaught exception in the parent on a line that
 * is not JSON, and its `advanced` mode runs V8's deserializer on bytes the plugin chose. A plugin owns its
 * end of the pipe (it can write raw bytes to the file descriptor), so the runtime's end must treat every
 * byte as hostile: frames are bounded, JSON is parsed with `JSON.parse`, and attachments are copied into
 * fresh typed arrays of an allow-listed kind. A bad frame is reported, never thrown.
 */

import type { Duplex } from 'node:stream';

/** Typed arrays that may cross the channel, by constructor name. */
const TYPED_ARRAYS = {
  Float32Array,
  Float64Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** The key that marks a JSON object standing for an attachment (`{ [BYTES]: index, type }`). */
const BYTES = '__kinegraphBytes';

/** Largest frame accepted: a tensor upload of a long, large video still fits; a runaway writer does not. */
export const MAX_FRAME_BYTES = 512 * 1024 ** 2;

const HEADER = 12; // u32 frame length (after this field), u32 JSON length, u32 attachment count

/** Encodes one message as a frame. Throws (synchronously) on values JSON cannot carry, such as BigInt. */
export function encodeFrame(message: unknown): Buffer {
  const attachments: Buffer[] = [];
  const json = JSON.stringify(message, function (this: Record<string, unknown>, key: string, value: unknown) {
    // `this[key]` is the value before toJSON (a Buffer's toJSON would turn it into an array of numbers).
    const raw = this[key];
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) {
      const name = typedArrayName(raw);
      if (name) {
        attachments.push(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
        return { [BYTES]: attachments.length - 1, type: name };
      }
    }
    return value;
  });
  const text = Buffer.from(json ?? 'null', 'utf8');
  const sizes = Buffer.alloc(4 * attachments.length);
  for (const [i, a] of attachments.entries()) sizes.writeUInt32LE(a.byteLength, 4 * i);
  const total = 8 + sizes.byteLength + text.byteLength + attachments.reduce((n, a) => n + a.byteLength, 0);
  if (total > MAX_FRAME_BYTES) throw new RangeError(`message of ${total} bytes is larger than a frame may be`);
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(total, 0);
  head.writeUInt32LE(text.byteLength, 4);
  head.writeUInt32LE(attachments.length, 8);
  return Buffer.concat([head, sizes, text, ...attachments]);
}

function typedArrayName(view: ArrayBufferView): TypedArrayName | undefined {
  for (const [name, ctor] of Object.entries(TYPED_ARRAYS)) {
    if (Object.getPrototypeOf(view) === ctor.prototype) return name as TypedArrayName;
  }
  // Subclasses (a Buffer is a Uint8Array) travel as their base type.
  for (const [name, ctor] of Object.entries(TYPED_ARRAYS)) if (view instanceof ctor) return name as TypedArrayName;
  return undefined;
}

/**
 * Splits a byte stream into messages. `onMessage` gets each decoded message; `onError` gets the first
 * malformed frame (after which the decoder ignores everything: the stream can no longer be trusted).
 */
export class FrameDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #broken = false;

  constructor(
    private readonly onMessage: (message: unknown) => void,
    private readonly onError: (why: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#broken) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    while (!this.#broken && this.#pendingBytes >= 4) {
      const first = this.#peek(4);
      const total = first.readUInt32LE(0);
      if (total < 8 || total > MAX_FRAME_BYTES) {
        this.#fail(`a frame claims ${total} bytes`);
        return;
      }
      if (this.#pendingBytes < 4 + total) return;
      const frame = this.#take(4 + total).subarray(4);
      let message: unknown;
      try {
        message = decodeBody(frame);
      } catch (error) {
        this.#fail(error instanceof Error ? error.message : String(error));
        return;
      }
      this.onMessage(message);
    }
  }

  #fail(why: string): void {
    this.#broken = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.onError(why);
  }

  #peek(n: number): Buffer {
    if (this.#pending[0]!.byteLength < n) this.#pending = [Buffer.concat(this.#pending)];
    return this.#pending[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#pending = rest.byteLength ? [rest] : [];
    this.#pendingBytes = rest.byteLength;
    return taken;
  }
}

function decodeBody(frame: Buffer): unknown {
  const jsonBytes = frame.readUInt32LE(0);
  const count = frame.readUInt32LE(4);
  let offset = 8 + 4 * count;
  if (count > 1 << 20 || offset + jsonBytes > frame.byteLength) throw new Error('a frame header is inconsistent');
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(frame.readUInt32LE(8 + 4 * i));
  const text = frame.toString('utf8', offset, offset + jsonBytes);
  offset += jsonBytes;
  const blobs: Buffer[] = [];
  for (const size of sizes) {
    if (offset + size > frame.byteLength) throw new Error('a frame attachment runs past its end');
    blobs.push(frame.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== frame.byteLength) throw new Error('a frame has trailing bytes');
  return JSON.parse(text, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object' || !(BYTES in value)) return value;
    const { [BYTES]: index, type } = value as { [BYTES]: unknown; type: unknown };
    const blob = typeof index === 'number' ? blobs[index] : undefined;
    const ctor =
      typeof type === 'string' && Object.hasOwn(TYPED_ARRAYS, type) ? TYPED_ARRAYS[type as TypedArrayName] : undefined;
    if (!blob || !ctor) throw new Error('a frame names an attachment that is not there');
    if (blob.byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`an attachment is not a whole ${type}`);
    // A fresh, aligned buffer of its own: the frame's buffer is reused, and views need alignment.
    const out = new ctor(blob.byteLength / ctor.BYTES_PER_ELEMENT);
    new Uint8Array(out.buffer).set(blob);
    return out;
  });
}

/**
 * A message channel over a duplex byte stream (a pipe to or from a plugin process). Sending never throws
 * for a closed stream; receiving reports a malformed stream once through `onBroken`.
 */
export class FrameChannel {
  readonly #stream: Duplex;
  #closed = false;

  constructor(
    stream: Duplex,
    handlers: { onMessage(message: unknown): void; onBroken(why: string): void; onClose(): void },
  ) {
    this.#stream = stream;
    const decoder = new FrameDecoder(handlers.onMessage, handlers.onBroken);
    stream.on('data', (chunk: Buffer) => decoder.push(chunk));
    stream.on('error', () => undefined); // the close that follows is what matters
    stream.on('close', () => {
      this.#closed = true;
      handlers.onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a message; throws only when it cannot be encoded (a BigInt, a frame too large). */
  send(message: unknown): void {
    const frame = encodeFrame(message);
    if (!this.#closed) this.#stream.write(frame);
  }

  close(): void {
    this.#stream.end();
  }
}
