import { KinegraphError } from '@kinegraph/core/sdk';

/**
 * Reads a safetensors file (an 8-byte little-endian header length, a JSON header, then raw little-endian
 * data) holding float32 tensors: the format of a pack's style weights.
 */
export function readSafetensors(
  bytes: Uint8Array,
  fileName: string,
): Record<string, { dims: number[]; data: Float32Array }> {
  const fail = (why: string) =>
    new KinegraphError('STYLE_FILE_INVALID', `${fileName} is not a valid safetensors file: ${why}.`, {
      hint: 'Re-export the style weights (make -C training export).',
    });
  if (bytes.length < 8) throw fail('it is shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) throw fail('its header length is out of range');
  let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as typeof header;
  } catch {
    throw fail('its header is not JSON');
  }
  const base = 8 + headerLength;
  const out: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw fail(`tensor "${name}" is ${String(entry.dtype)}, only F32 is supported`);
    const [begin, end] = entry.data_offsets ?? [0, -1];
    const count = (entry.shape ?? []).reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || base + end > bytes.length) throw fail(`tensor "${name}" has inconsistent offsets`);
    // Copy to an aligned buffer: tensor data in the file need not be 4-byte aligned.
    out[name] = { dims: entry.shape ?? [], data: new Float32Array(bytes.slice(base + begin, base + end).buffer) };
  }
  return out;
}
