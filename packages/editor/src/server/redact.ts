/**
 * Server paths never leave the server: error messages and hints from nodes, the runtime and the model
 * loader name files by their absolute path (`/home/ana/project/models/kinegraph-tiny/stunet.onnx is
 * corrupt`), which is right on the user's own terminal and a leak to a browser. Every text the server sends
 * to a client passes through {@link PathRedactor}: a path inside the server's working folder becomes
 * relative to it, one in the home folder starts with `~`, and any other absolute path keeps only its last
 * segment.
 */
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, sep } from 'node:path';
import type { WireEvent } from '../shared/protocol.js';

/** Rewrites absolute paths in texts bound for clients. */
export class PathRedactor {
  readonly #roots: { prefix: string; label: string }[];
  readonly #pattern: RegExp | undefined;

  /** `cwd`: the server's working folder, whose paths become relative (`inputs/a.png`). */
  constructor(cwd: string) {
    const home = homedir();
    this.#roots = [
      { prefix: withSep(cwd), label: '' },
      ...(home && isAbsolute(home) && home !== sep ? [{ prefix: withSep(home), label: `~${sep}` }] : []),
    ].sort((a, b) => b.prefix.length - a.prefix.length);
    // Only paths that start at a real top-level folder count: a JSON pointer (`/nodes/a/params`) or an API
    // URL (`/api/outputs/x.mp4`) in a message is not a server path and must survive.
    let tops: string[] = [];
    try {
      tops = readdirSync(sep).filter((n) => /^[\w.-]+$/.test(n) && n !== 'api');
    } catch {}
    this.#pattern = tops.length
      ? new RegExp(`(?<![\\w.:/~-])/(?:${tops.map(escapeRegExp).join('|')})(?:/[^\\s"'\`<>|,;)\\]]*)?`, 'g')
      : undefined;
  }

  /** `text` with every absolute server path rewritten. */
  text(text: string): string {
    let out = text;
    for (const { prefix, label } of this.#roots) out = out.split(prefix).join(label);
    if (!this.#pattern) return out;
    return out.replace(this.#pattern, (path) => {
      const trimmed = path.replace(/[.:]+$/, '');
      const last = trimmed.split('/').filter(Boolean).at(-1) ?? '';
      return `\u2026/${last}${path.slice(trimmed.length)}`;
    });
  }

  /** An error's message and hint (and any other string field) rewritten; other fields kept. */
  error<T extends { message: string; hint?: string }>(error: T): T {
    const out: Record<string, unknown> = { ...error };
    for (const [key, value] of Object.entries(out)) if (typeof value === 'string') out[key] = this.text(value);
    return out as T;
  }
}

/** Server paths in an event's messages, hints, warnings and output values made relative or basenames. */
export function redactEvent(event: WireEvent, r: PathRedactor): WireEvent {
  switch (event.type) {
    case 'node:error':
    case 'run:error':
      return { ...event, error: r.error(event.error) };
    case 'node:warning':
      return { ...event, message: r.text(event.message) };
    case 'node:progress':
      return event.message === undefined ? event : { ...event, message: r.text(event.message) };
    case 'node:done': {
      const outputs = Object.fromEntries(
        Object.entries(event.outputs).map(([name, o]) => [
          name,
          o.kind === 'value' && typeof o.value === 'string' && !o.value.startsWith('/api/outputs/')
            ? { ...o, value: r.text(o.value) }
            : o,
        ]),
      );
      return { ...event, outputs };
    }
    default:
      return event;
  }
}

function withSep(path: string): string {
  return path.endsWith(sep) ? path : `${path}${sep}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
