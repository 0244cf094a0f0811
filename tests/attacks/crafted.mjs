// Hostile files as the hardening issue (#18) describes them, made byte by byte: small on disk, huge when
// decoded. Plain JS so both the attack tests and `npm run bench -- attacks` use the same files.
import { deflateSync } from 'node:zlib';

/**
 * A GIF whose canvas is `side`² but whose `frames` frames are each one pixel: ≈ 20 bytes a frame on disk,
 * `side`² × 4 bytes a frame decoded (the 1,400-byte 2048² × 60 GIF took 3.9 GB).
 */
export function gifBomb(side = 2048, frames = 60) {
  const parts = [Buffer.from('GIF89a', 'latin1'), u16(side), u16(side), Buffer.from([0x00, 0, 0])];
  // Netscape loop extension, as real animated GIFs have.
  parts.push(Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('NETSCAPE2.0', 'latin1'), Buffer.from([3, 1, 0, 0, 0]));
  for (let i = 0; i < frames; i++) {
    // Graphic control (delay 4/100 s), a 1×1 image with a 2-colour local table, LZW: clear, 0, end.
    parts.push(Buffer.from([0x21, 0xf9, 4, 0, 4, 0, 0, 0]));
    parts.push(Buffer.from([0x2c]), u16(i % side), u16(0), u16(1), u16(1), Buffer.from([0x80]));
    parts.push(Buffer.from([0, 0, 0, 255, 255, 255]), Buffer.from([2, 2, 0x44, 0x01, 0]));
  }
  parts.push(Buffer.from([0x3b]));
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * A valid 1-bit grey PNG of `side`² whose pixels are all black: zlib squeezes the rows to ≈ 32 KB (the
 * issue's 32 KB PNG of 16384² took about 5 GB to decode). `side` is a multiple of 8.
 */
export function pngBomb(side = 16384) {
  const row = Buffer.alloc(1 + side / 8); // filter byte 0, then 8 pixels a byte
  const rows = [];
  for (let y = 0; y < side; y++) rows.push(row);
  const idat = deflateSync(Buffer.concat(rows), { level: 9 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grey
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', idat),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}

/** The 149-byte workflow of the issue: one Mask Rect at `frames` × `height` × `width`, all within schema. */
export function maskRectWorkflow(frames = 400, side = 2048) {
  return {
    format: 'kinegraph/workflow@1',
    nodes: { m: { type: 'kinegraph/mask-rect', version: 1, params: { frames, maskWidth: side, maskHeight: side } } },
  };
}

/** A workflow `depth` levels deep under `metadata` (the schema accepts anything there), as JSON text. */
export function deepWorkflowText(depth) {
  return `{"format":"kinegraph/workflow@1","nodes":{},"metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  let c = 0xffffffff;
  for (const b of Buffer.concat([head.subarray(4), data])) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return Buffer.concat([head, data, crc]);
}
