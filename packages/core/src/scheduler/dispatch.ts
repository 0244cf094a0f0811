import type { TensorHandle } from '../tensor/types.js';
import type { PreparedNode, PreparedWorkflow } from '../validate/validate.js';

/** A node's outputs once settled, with the tensor references the run holds on them. */
export interface SettledNode {
  /** The cache key the outputs were made or found under; it becomes part of every consumer's key. */
  readonly key: string;
  readonly outputs: Record<string, unknown>;
  /** One reference per tensor in `outputs`, held for the run until the node's last consumer has run. */
  readonly held: readonly TensorHandle[];
}

/** What a node reads: the values on its input ports, and the cache keys of the outputs they came from. */
export interface NodeInputs {
  readonly values: Record<string, unknown>;
  readonly keys: Record<string, string>;
}

/** How {@link Dispatch.drain} settles nodes and learns that it must stop. */
export interface DrainOptions {
  /** How many nodes may be settling at once (at least 1). */
  readonly concurrency: number;
  /** Settles one node whose producers have all settled (from the cache, or by running it). */
  readonly settle: (node: PreparedNode, inputs: NodeInputs) => Promise<SettledNode>;
  /** A node could not be settled: it failed, or was aborted. */
  readonly failed: (nodeId: string, error: unknown) => void;
  /** True once no further node may start (the run failed or was cancelled). */
  readonly halted: () => boolean;
  /** Aborted when the run halts: the dispatch then stops starting nodes and waits only for running ones. */
  readonly halt: AbortSignal;
}

/** One node's place in the dispatch: its edges, how far its neighbours are, and what it holds. */
interface Slot {
  readonly node: PreparedNode;
  /** Nodes this one reads from (distinct). */
  readonly dependencies: readonly string[];
  /** Nodes that read from this one (distinct). */
  readonly consumers: string[];
  /** Dependencies not settled yet: the node is ready at 0. */
  unsettledDependencies: number;
  /** Consumers not finished yet: the node's outputs are freed at 0. */
  pendingConsumers: number;
  settled?: SettledNode;
  /** Tensors this node's outputs hold until its last consumer has finished. */
  held: readonly TensorHandle[];
}

/**
 * What is ready to run and what may be freed: starts every node whose producers have settled, up to a
 * concurrency limit (independent branches run side by side), and counts each producer's consumers so that
 * its output tensors are released as soon as the last one has finished (or will never run).
 */
export class Dispatch {
  readonly #slots = new Map<string, Slot>();
  /** Ready node ids; a queue with a moving head, since shift() would make wide graphs quadratic. */
  readonly #ready: string[];
  #head = 0;
  readonly #running = new Set<string>();

  /**
   * @param prepared The workflow; its `order` is the order ready nodes start in.
   * @param release Gives back one reference on a tensor the run held.
   */
  constructor(
    prepared: PreparedWorkflow,
    private readonly release: (handle: TensorHandle) => void,
  ) {
    for (const id of prepared.order) {
      const node = prepared.nodes.get(id)!;
      const dependencies = [...new Set(Object.values(node.inputs).map((edge) => edge.node))];
      this.#slots.set(id, {
        node,
        dependencies,
        consumers: [],
        unsettledDependencies: dependencies.length,
        pendingConsumers: 0,
        held: [],
      });
    }
    for (const slot of this.#slots.values()) {
      for (const dependency of slot.dependencies) this.#slots.get(dependency)!.consumers.push(slot.node.id);
    }
    for (const slot of this.#slots.values()) slot.pendingConsumers = slot.consumers.length;
    this.#ready = prepared.order.filter((id) => this.#slots.get(id)!.unsettledDependencies === 0);
  }

  /** Every tensor the run holds now for outputs not yet consumed (what counts against its memory budget). */
  held(): TensorHandle[] {
    return [...this.#slots.values()].flatMap((slot) => slot.held);
  }

  /** Ids of the nodes settling now. */
  get running(): string[] {
    return [...this.#running];
  }

  /**
   * Settles nodes in dependency order until every node has settled, or the run halts and the nodes already
   * running have finished. Never rejects: failures go to `options.failed`.
   */
  drain(options: DrainOptions): Promise<void> {
    const concurrency = Math.max(1, options.concurrency);
    return new Promise<void>((drained) => {
      const pump = () => {
        if (options.halted()) {
          if (this.#running.size === 0) drained();
          return;
        }
        while (this.#head < this.#ready.length && this.#running.size < concurrency) {
          const slot = this.#slots.get(this.#ready[this.#head++]!)!;
          this.#running.add(slot.node.id);
          options.settle(slot.node, this.#inputsOf(slot.node)).then(
            (settled) => {
              this.#settled(slot, settled);
              pump();
            },
            (error: unknown) => {
              this.#finished(slot);
              options.failed(slot.node.id, error);
              pump();
            },
          );
        }
        if (this.#running.size === 0) drained();
      };
      options.halt.addEventListener('abort', pump, { once: true });
      pump();
    });
  }

  /** Gives back every reference the run still holds (after the run, whatever its outcome). */
  releaseAll(): void {
    for (const slot of this.#slots.values()) this.#releaseHeld(slot);
  }

  #inputsOf(node: PreparedNode): NodeInputs {
    const values: Record<string, unknown> = {};
    const keys: Record<string, string> = {};
    for (const [port, edge] of Object.entries(node.inputs)) {
      const source = this.#slots.get(edge.node)!.settled!;
      values[port] = source.outputs[edge.output];
      keys[port] = `${source.key}.${edge.output}`;
    }
    return { values, keys };
  }

  #settled(slot: Slot, settled: SettledNode): void {
    slot.settled = settled;
    slot.held = settled.held;
    this.#finished(slot);
    for (const consumer of slot.consumers) {
      const waiting = this.#slots.get(consumer)!;
      if (--waiting.unsettledDependencies === 0) this.#ready.push(consumer);
    }
    // Nobody reads a sink's outputs; the cache holds its own references on what it keeps.
    if (slot.consumers.length === 0) this.#releaseHeld(slot);
  }

  // The node has finished, settled or not: its producers' outputs may be freed once nobody else needs them.
  #finished(slot: Slot): void {
    this.#running.delete(slot.node.id);
    for (const dependency of slot.dependencies) {
      const producer = this.#slots.get(dependency)!;
      if (--producer.pendingConsumers === 0) this.#releaseHeld(producer);
    }
  }

  #releaseHeld(slot: Slot): void {
    for (const handle of slot.held) this.release(handle);
    slot.held = [];
  }
}
