// Memory declarations that depend on facts another node declared (a model pack's sizes): the facts flow
// along the edges, through nodes that pass them on, into the plan before the run and into each node's
// check as it settles, whether its producer ran or came from the cache.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../runtime.js';
import { defineNode, definePlugin, Type } from '../sdk/index.js';
import type { RunEvent } from './events.js';

/** Like a model pack loader: no tensors, but it says how large what is made with it will be. */
const pack = defineNode({
  type: 'facts/pack',
  version: 1,
  title: 'Pack',
  category: 'test',
  description: 'A model whose side is a param.',
  params: Type.Object({ side: Type.Integer({ minimum: 1, default: 8 }), declare: Type.Boolean({ default: true }) }),
  inputs: {},
  outputs: { model: { type: 'model' } },
  memory: ({ params }) => ({ outputs: {}, ...(params.declare ? { facts: { model: { side: params.side } } } : {}) }),
  run: () => ({ model: { kind: 'model' as const, name: 'facts' } }),
});

/** Like a loader: a tensor whose size nobody knows before it runs (it declares nothing). */
const gate = defineNode({
  type: 'facts/gate',
  version: 1,
  title: 'Gate',
  category: 'test',
  description: 'A small tensor.',
  params: Type.Object({}),
  inputs: {},
  outputs: { latent: { type: 'latent' } },
  async run({ context }) {
    return { latent: { kind: 'latent' as const, tensor: await context.tensors.upload(new Float32Array(4), [4]) } };
  },
});

/**
 * Like a style adapter: passes the model on, and its facts with it. With its optional `gate` connected it
 * can say nothing until the gate's size is known, so its facts reach its consumers only as it settles.
 */
const adapt = defineNode({
  type: 'facts/adapt',
  version: 1,
  title: 'Adapt',
  category: 'test',
  description: 'Passes a model on.',
  params: Type.Object({}),
  inputs: { model: { type: 'model' }, gate: { type: 'latent', optional: true } },
  outputs: { model: { type: 'model' } },
  memory: ({ inputs, facts }) =>
    inputs.gate === null
      ? undefined
      : { outputs: {}, ...(facts.model !== undefined ? { facts: { model: facts.model } } : {}) },
  run: ({ inputs }) => ({ model: inputs.model }),
});

/** Like a sampler: a [side, side] tensor, sized by the model's facts. */
const make = defineNode({
  type: 'facts/make',
  version: 1,
  title: 'Make',
  category: 'test',
  description: 'Zeros of the model\u2019s side.',
  params: Type.Object({}),
  inputs: { model: { type: 'model' } },
  outputs: { latent: { type: 'latent' } },
  // Runs every time, so a second run shows it sized from facts of producers served from the cache.
  cache: false,
  memory({ facts }) {
    const side = (facts.model as { side?: unknown } | undefined)?.side;
    return typeof side === 'number' ? { outputs: { latent: { dims: [side, side], dtype: 'float32' } } } : undefined;
  },
  async run({ context }) {
    return { latent: { kind: 'latent' as const, tensor: await context.tensors.upload(new Float32Array(64), [8, 8]) } };
  },
});

const runtime = await Runtime.create({
  plugins: [await definePlugin(() => ({ name: 'facts-test', nodes: [pack, gate, adapt, make] }))()],
  cacheBudgetBytes: 1024 ** 2,
});
const out = await mkdtemp(join(tmpdir(), 'kg-facts-'));
afterAll(() => runtime.close());

const doc = (side: number, declare = true, gated = false) => ({
  format: 'kinegraph/workflow@1',
  nodes: {
    pack: { type: 'facts/pack', version: 1, params: { side, declare } },
    ...(gated ? { gate: { type: 'facts/gate', version: 1 } } : {}),
    adapt: {
      type: 'facts/adapt',
      version: 1,
      inputs: {
        model: { node: 'pack', output: 'model' },
        ...(gated ? { gate: { node: 'gate', output: 'latent' } } : {}),
      },
    },
    make: { type: 'facts/make', version: 1, inputs: { model: { node: 'adapt', output: 'model' } } },
  },
});

function plan(side: number, budget: number, declare = true, gated = false) {
  const result = runtime.validate(doc(side, declare, gated));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return runtime.checkMemory(result.prepared, budget);
}

const run = (side: number, budget: number, gated = false): Promise<RunEvent[]> =>
  lastValueFrom(
    runtime
      .run(doc(side, true, gated), { outputFolder: out, allowedFolders: [out], memoryBudgetBytes: budget })
      .pipe(toArray()),
  );

describe('facts declared by one node size another', () => {
  it('refuses the run before it starts when the facts make a node too large', () => {
    // 2000² floats are 16 MB.
    expect(plan(2000, 8 * 1024 ** 2)).toMatchObject({ code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'make' });
    expect(plan(2000, 32 * 1024 ** 2)).toBeUndefined();
    // Without facts the node cannot size itself before it runs: nothing is refused up front.
    expect(plan(2000, 8 * 1024 ** 2, false)).toBeUndefined();
  });

  it('sizes a node as it settles from facts known only then, also when their producers come from the cache', async () => {
    // Before the run the gate's size is unknown, so `adapt` says nothing and `make` cannot be judged.
    expect(plan(2000, 8 * 1024 ** 2, true, true)).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const events = await run(8, 1024 ** 2, true);
      expect(events.at(-1)!.type).toBe('run:done');
      if (i === 1) expect(events).toContainEqual(expect.objectContaining({ type: 'node:cached', nodeId: 'adapt' }));
      const done = events.find((e) => e.type === 'node:done' && e.nodeId === 'make');
      expect(done).toMatchObject({ memory: { declaredBytes: 256, peakBytes: 256 } });
    }
    // As it settles, `make` learns its side from `adapt`, and is refused before it runs.
    const events = await run(2000, 8 * 1024 ** 2, true);
    expect(events.at(-1)).toMatchObject({
      type: 'run:error',
      error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'make' },
    });
    expect(events).not.toContainEqual(expect.objectContaining({ type: 'node:start', nodeId: 'make' }));
  });

  it('refuses a declaration that is not one, naming the node', () => {
    const result = runtime.validate(doc(8));
    if (!result.ok) throw new Error('invalid');
    const broken = { ...pack, memory: () => ({ outputs: {}, facts: 'not a record' }) as never };
    const node = result.prepared.nodes.get('pack')!;
    const prepared = {
      ...result.prepared,
      nodes: new Map([
        ...result.prepared.nodes,
        ['pack', { ...node, registered: { ...node.registered, definition: broken } }],
      ]),
    };
    expect(runtime.checkMemory(prepared as never, 1024)).toMatchObject({ code: 'NODE_MEMORY_INVALID', nodeId: 'pack' });
  });
});
