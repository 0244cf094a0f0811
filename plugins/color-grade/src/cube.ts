import { KinegraphError } from '@kinegraph/core/sdk';

/** A 3D colour lookup table as read from an Adobe/Resolve `.cube` file. */
export interface Lut3d {
  /** Entries per axis (N): the table has N³ RGB entries. */
  readonly size: number;
  /** N³ × 3 output values, red index varying fastest (the `.cube` order). */
  readonly table: Float32Array;
  /** Input value mapped to the first entry, per channel. */
  readonly domainMin: readonly [number, number, number];
  /** Input value mapped to the last entry, per channel. */
  readonly domainMax: readonly [number, number, number];
  readonly title: string | undefined;
}

/** Largest N accepted: 256³ entries is already 200 MB of floats. */
export const MAX_LUT_SIZE = 256;

/**
 * Parses the text of a `.cube` file (3D tables only). Throws `LUT_INVALID` naming the line at fault, so a
 * user with a broken file knows where to look.
 */
export function parseCube(text: string, name = 'LUT'): Lut3d {
  let size: number | undefined;
  let title: string | undefined;
  let domainMin: [number, number, number] = [0, 0, 0];
  let domainMax: [number, number, number] = [1, 1, 1];
  const values: number[] = [];
  const fail = (line: number, why: string) =>
    new KinegraphError('LUT_INVALID', `${name}, line ${line}: ${why}`, {
      hint: 'Use a 3D .cube file (LUT_3D_SIZE N followed by N³ lines of "r g b"), as exported by Resolve, Premiere or OCIO.',
    });
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const key = words[0]!;
    if (/^[-+.\d]/.test(key)) {
      if (size === undefined) throw fail(i + 1, 'table data before LUT_3D_SIZE');
      if (words.length !== 3) throw fail(i + 1, `expected 3 numbers, got ${words.length}`);
      for (const w of words) {
        const v = Number(w);
        if (!Number.isFinite(v)) throw fail(i + 1, `"${w}" is not a number`);
        values.push(v);
      }
      continue;
    }
    switch (key) {
      case 'TITLE':
        title = line.slice(5).trim().replace(/^"|"$/g, '');
        break;
      case 'LUT_3D_SIZE': {
        const n = Number(words[1]);
        if (!Number.isInteger(n) || n < 2 || n > MAX_LUT_SIZE)
          throw fail(i + 1, `LUT_3D_SIZE must be an integer from 2 to ${MAX_LUT_SIZE}`);
        size = n;
        break;
      }
      case 'DOMAIN_MIN':
      case 'DOMAIN_MAX': {
        const triple = words.slice(1).map(Number);
        if (triple.length !== 3 || !triple.every(Number.isFinite)) throw fail(i + 1, `${key} needs 3 numbers`);
        if (key === 'DOMAIN_MIN') domainMin = triple as [number, number, number];
        else domainMax = triple as [number, number, number];
        break;
      }
      case 'LUT_1D_SIZE':
        throw fail(i + 1, '1D LUTs are not supported');
      default:
        // Vendor keywords (LUT_IN_VIDEO_RANGE, ...) do not change a 3D table's meaning here.
        break;
    }
  }
  if (size === undefined) throw fail(lines.length, 'no LUT_3D_SIZE');
  if (values.length !== size ** 3 * 3)
    throw fail(lines.length, `expected ${size ** 3} entries for size ${size}, found ${values.length / 3}`);
  if (domainMin.some((v, c) => v >= domainMax[c]!))
    throw fail(lines.length, 'DOMAIN_MIN must be below DOMAIN_MAX on every channel');
  return { size, table: Float32Array.from(values), domainMin, domainMax, title };
}
