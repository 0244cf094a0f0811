/** Keeps an issue's message readable when a value in it is a 10 MB string. */
export function truncate(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}\u2026 (${text.length} characters)` : text;
}
