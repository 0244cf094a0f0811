/** Safe, non-clobbering names for files nodes write into the run's output folder. */
import { readdir } from 'node:fs/promises';

/** What a filename prefix param accepts (also used as the param's JSON Schema pattern). */
export const SAFE_PREFIX_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';

/**
 * Returns the prefix when it is a plain name (letters, digits, `.`, `_`, `-`, no leading dot, no path
 * separators), else a sanitised copy: params are validated against {@link SAFE_PREFIX_PATTERN} already,
 * so this is a second line of defence for programmatic callers.
 */
export function safePrefix(prefix: string): string {
  const cleaned = prefix
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 100);
  return cleaned || 'kinegraph';
}

// Names handed out but maybe not yet on disk, per folder: two nodes saving with one prefix in the same
// run must not both pick the next free number.
const reserved = new Map<string, Set<string>>();

/**
 * The next `prefix_00001` style stem not used in `folder` by any file (whatever its extension) nor
 * handed out before in this process. Callers append `.ext` or `_0000.png`.
 */
export async function nextOutputStem(folder: string, prefix: string): Promise<string> {
  const safe = safePrefix(prefix);
  const existing = await readdir(folder).catch(() => [] as string[]);
  const taken = reserved.get(folder) ?? new Set<string>();
  reserved.set(folder, taken);
  const pattern = new RegExp(`^${safe.replace(/[.]/g, '\\.')}_(\\d{5,})(?=[._])`);
  let highest = 0;
  for (const name of [...existing, ...taken]) {
    const m = pattern.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  const stem = `${safe}_${String(highest + 1).padStart(5, '0')}`;
  taken.add(`${stem}.`);
  return stem;
}
