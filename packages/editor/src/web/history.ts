/**
 * Undo/redo by snapshots: after anything that may have changed the graph, the workflow is compared with the
 * last snapshot and pushed when different. Snapshots of whole (small) workflows are simpler and sturdier
 * than recording each kind of edit.
 */
export class History {
  readonly #undo: string[] = [];
  readonly #redo: string[] = [];

  constructor(private readonly limit = 100) {}

  /** Records the current state if it differs from the last one. */
  record(state: string): void {
    if (this.#undo.at(-1) === state) return;
    this.#undo.push(state);
    if (this.#undo.length > this.limit) this.#undo.shift();
    this.#redo.length = 0;
  }

  /** Replaces the current state without a new undo step (what changed is not an edit: the open subgraph). */
  replaceTop(state: string): void {
    if (this.#undo.length) this.#undo[this.#undo.length - 1] = state;
    else this.#undo.push(state);
  }

  /** Starts over from `state` (a newly loaded workflow). */
  reset(state: string): void {
    this.#undo.length = 0;
    this.#redo.length = 0;
    this.#undo.push(state);
  }

  /** The state to go back to, or undefined. */
  undo(): string | undefined {
    if (this.#undo.length < 2) return undefined;
    this.#redo.push(this.#undo.pop()!);
    return this.#undo.at(-1);
  }

  /** The state to go forward to, or undefined. */
  redo(): string | undefined {
    const state = this.#redo.pop();
    if (state !== undefined) this.#undo.push(state);
    return state;
  }
}
