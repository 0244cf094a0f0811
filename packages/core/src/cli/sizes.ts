/** Sizes given on the command line (`--memory 2GB`), read with `bytes-iec`. */
import bytes from 'bytes-iec';
import { UsageError } from './args.js';

/**
 * Bytes of a size such as `2GB` (decimal units are powers of 1000: kB, MB, GB, TB), `512MiB` (binary units
 * are powers of 1024: KiB, MiB, GiB, TiB) or a plain number of bytes; units are case-insensitive, a space
 * before the unit is allowed. Anything else, or a size under one byte, is a {@link UsageError} naming the
 * option.
 */
export function parseSize(text: string, option: string): number {
  const parsed = bytes.parse(text.trim());
  if (parsed === null || !Number.isFinite(parsed) || parsed < 1)
    throw new UsageError(
      `${option} takes a size such as 2GB, 512MiB or a number of bytes (got "${text}"): kB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB of 1024.`,
    );
  return Math.floor(parsed);
}
