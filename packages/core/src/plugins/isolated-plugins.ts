import type { IsolatedPlugin } from './isolated-plugin.js';

/** The isolated plugins of a runtime: their processes start on use and stop with {@link close}. */
export class IsolatedPlugins {
  readonly #plugins: IsolatedPlugin[] = [];

  add(plugin: IsolatedPlugin): void {
    this.#plugins.push(plugin);
  }

  get size(): number {
    return this.#plugins.length;
  }

  /** Starts, in the background, the processes a run with these folders will use. */
  prepare(folders: { allowedFolders: readonly string[]; outputFolder: string }, packages?: ReadonlySet<string>): void {
    for (const plugin of this.#plugins) if (!packages || packages.has(plugin.name)) plugin.prepare(folders);
  }

  /** Stops every plugin process. */
  async close(): Promise<void> {
    await Promise.all(this.#plugins.map((p) => p.close()));
  }
}

/** Runs at most `size` tasks at a time, in the order they were given. */
export class Limit {
  #running = 0;
  readonly #queue: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.size) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}
