/**
 * Tiny node types for the server's tests (not part of the published package): they run in milliseconds,
 * or wait until told, so queueing and cancellation are tested without a model.
 */
import { defineNode, type KinegraphPlugin, Type } from '@kinegraph/core/sdk';

/** A valid 1×1 PNG: the smallest image for previews and uploads. */
export const PNG_1X1: Buffer = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

/** Gates that `test/wait` nodes wait on, by name; `release(name)` lets them finish. */
const gates = new Map<string, { promise: Promise<void>; release: () => void }>();

function gate(name: string) {
  let entry = gates.get(name);
  if (!entry) {
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    entry = { promise, release };
    gates.set(name, entry);
  }
  return entry;
}

/** Lets every `test/wait` node waiting on `name` finish. */
export function release(name: string): void {
  gate(name).release();
}

/** Lets every waiting and future `test/wait` node finish (test clean-up, so one failure cannot block the queue). */
export function releaseAll(): void {
  for (const entry of gates.values()) entry.release();
}

const text = defineNode({
  type: 'test/text',
  version: 1,
  title: 'Text',
  category: 'test',
  description: 'Outputs its param.',
  params: Type.Object({ value: Type.String({ default: 'hello' }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  run: ({ params }) => ({ text: params.value }),
});

const wait = defineNode({
  type: 'test/wait',
  version: 1,
  title: 'Wait',
  category: 'test',
  description: 'Reports progress with a preview, then waits for its gate (or cancellation).',
  params: Type.Object({ gate: Type.String({ default: 'g' }) }),
  inputs: { text: { type: 'text' } },
  outputs: { text: { type: 'text' } },
  cache: false,
  async run({ params, inputs, context }) {
    // A 1×1 PNG is enough to prove previews travel.
    const png = Uint8Array.from(PNG_1X1);
    context.progress(0.5, { message: 'waiting', preview: { mime: 'image/png', data: png, width: 1, height: 1 } });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(context.signal.reason);
      if (context.signal.aborted) return onAbort();
      context.signal.addEventListener('abort', onAbort, { once: true });
      void gate(params.gate).promise.then(() => {
        context.signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return { text: inputs.text };
  },
});

const fail = defineNode({
  type: 'test/fail',
  version: 1,
  title: 'Fail',
  category: 'test',
  description: 'Always fails with code TEST_FAILURE.',
  params: Type.Object({}),
  inputs: { text: { type: 'text' } },
  outputs: {},
  run: () => {
    throw Object.assign(new Error('This node always fails.'), { code: 'TEST_FAILURE', hint: 'It is a test.' });
  },
});

/**
 * A workflow `test/text` → `test/wait` on gate `gate` (its text is the gate's name): it runs until
 * `release(gate)`. `extra` adds top-level fields (`name`, `metadata`, ...).
 */
export function gatedWorkflow(gate: string, extra: Record<string, unknown> = {}) {
  return {
    format: 'kinegraph/workflow@1',
    nodes: {
      a: { type: 'test/text', version: 1, params: { value: gate } },
      b: { type: 'test/wait', version: 1, params: { gate }, inputs: { text: { node: 'a', output: 'text' } } },
    },
    ...extra,
  };
}

/** The test plugin. */
export const testPlugin: KinegraphPlugin = { name: 'test-nodes', nodes: [text, wait, fail] };
