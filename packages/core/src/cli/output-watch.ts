/**
 * Watches the CLI's output streams for a reader that went away: `kinegraph run … | head -3` once `head` has
 * exited (EPIPE), or a terminal that is gone. Node reports that as an `'error'` event on the stream, which
 * unhandled ends the process with an uncaught exception, and, where a host catches stray errors, would
 * report it on the same broken stream, again and again, at 100% CPU. Once a stream has failed, the run is
 * cancelled (see `onClose`) and what is still written is dropped.
 */
export class OutputWatch {
  #closed = false;
  readonly #listeners = new Set<() => void>();
  readonly #onError = () => {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#listeners) listener();
  };

  constructor(private readonly streams: readonly NodeJS.WritableStream[]) {
    for (const stream of streams) stream.on('error', this.#onError);
  }

  /** True once a stream has failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` when a stream fails (at once if one has); returns a function that stops it. */
  onClose(listener: () => void): () => void {
    if (this.#closed) listener();
    else this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops watching. The streams keep one listener that ignores their errors: one may still be on its way
   * (they are emitted on a later tick), and nothing reads a failed stream anymore.
   */
  dispose(): void {
    this.#listeners.clear();
    for (const stream of this.streams) {
      stream.off('error', this.#onError);
      if (!stream.listeners('error').includes(ignoreError)) stream.on('error', ignoreError);
    }
  }
}

function ignoreError(): void {}
