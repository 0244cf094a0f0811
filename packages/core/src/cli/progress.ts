import type { RunEvent } from '../scheduler/events.js';

/** Renders run events for people: a live bar per running node on a TTY, plain lines otherwise. */
export interface ProgressRenderer {
  handle(event: RunEvent): void;
  finish(): void;
}

const BAR_WIDTH = 24;

export function createProgressRenderer(stream: NodeJS.WriteStream, tty: boolean): ProgressRenderer {
  return tty ? new TtyRenderer(stream) : new PlainRenderer(stream);
}

class PlainRenderer implements ProgressRenderer {
  // Plain output reports progress in 10% steps so logs stay short.
  readonly #lastDecile = new Map<string, number>();
  constructor(private readonly out: NodeJS.WriteStream) {}

  handle(event: RunEvent): void {
    const line = plainLine(event, this.#lastDecile);
    if (line) this.out.write(`${line}\n`);
  }

  finish(): void {}
}

function plainLine(event: RunEvent, lastDecile: Map<string, number>): string | undefined {
  switch (event.type) {
    case 'node:start':
      return `[${event.nodeId}] ${event.nodeType} started`;
    case 'node:progress': {
      const decile = Math.floor(event.fraction * 10);
      if ((lastDecile.get(event.nodeId) ?? -1) >= decile) return undefined;
      lastDecile.set(event.nodeId, decile);
      return `[${event.nodeId}] ${Math.round(event.fraction * 100)}%${event.message ? ` ${event.message}` : ''}`;
    }
    case 'node:cached':
      return `[${event.nodeId}] ${event.nodeType} cached`;
    case 'node:warning':
      return `[${event.nodeId}] warning ${event.code}: ${event.message}`;
    case 'node:done':
      return `[${event.nodeId}] done in ${formatMs(event.ms)}`;
    case 'node:error':
      return `[${event.nodeId}] ${event.error.code}: ${event.error.message}${event.error.hint ? `\n    hint: ${event.error.hint}` : ''}`;
    default:
      return undefined;
  }
}

class TtyRenderer implements ProgressRenderer {
  readonly #running = new Map<string, { type: string; fraction: number; message?: string; started: number }>();
  #drawnLines = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  handle(event: RunEvent): void {
    switch (event.type) {
      case 'node:start':
        this.#running.set(event.nodeId, { type: event.nodeType, fraction: 0, started: performance.now() });
        break;
      case 'node:progress': {
        const state = this.#running.get(event.nodeId);
        if (state) {
          state.fraction = event.fraction;
          if (event.message) state.message = event.message;
        }
        break;
      }
      case 'node:done':
      case 'node:error':
      case 'node:cached':
      case 'node:warning':
        if (event.type !== 'node:warning') this.#running.delete(event.nodeId);
        this.#clear();
        this.out.write(`${plainLine(event, new Map())}\n`);
        break;
      default:
        return;
    }
    this.#draw();
  }

  finish(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#drawnLines) this.out.write(`\x1b[${this.#drawnLines}A\x1b[0J`);
    this.#drawnLines = 0;
  }

  #draw(): void {
    this.#clear();
    const width = Math.max(40, (this.out.columns ?? 80) - 1);
    for (const [id, state] of this.#running) {
      const filled = Math.round(state.fraction * BAR_WIDTH);
      const elapsed = formatMs(performance.now() - state.started);
      const line = `${id} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(state.fraction * 100)).padStart(3)}% ${elapsed}${state.message ? ` ${state.message}` : ''}`;
      this.out.write(`${line.slice(0, width)}\n`);
    }
    this.#drawnLines = this.#running.size;
  }
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
