/**
 * How deeply a JSON text nests, measured on the text before it is parsed. A workflow nested millions deep
 * parses into millions of objects (a 4.9 MB body held ≈ 133 MB in the server) and overflows the stack of
 * every recursive walk after it (validation, `structuredClone`), so hosts refuse it before `JSON.parse`.
 */

/** Deepest nesting any body or embedded workflow may have. Real workflows nest 5–8 levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * The index of the first bracket that opens level `limit + 1`, or -1 when the text never nests deeper
 * than `limit`. One pass, no recursion; brackets inside strings (escapes included) do not count. Does not
 * check that the text is valid JSON: `JSON.parse` does that afterwards.
 */
export function depthExceededAt(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return i;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return -1;
}
