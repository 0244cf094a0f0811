// Nodes used by core's own tests: small, pure JavaScript (or tiny tensor work), each doing one thing that
// a test can observe. Not part of the published package.
import { defineNode, definePlugin, Type } from '../sdk/index.js';

/** Calls per node type, so tests can see what re-ran. */
export const calls = new Map<string, number>();
const count = (type: string) => calls.set(type, (calls.get(type) ?? 0) + 1);

export const textSource = defineNode({
  type: 'test/text',
  version: 1,
  title: 'Text',
  category: 'test',
  description: 'Outputs its text param.',
  params: Type.Object({ text: Type.String({ default: '' }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  run({ params }) {
    count('test/text');
    return { text: params.text };
  },
});

export const upper = defineNode({
  type: 'test/upper',
  version: 2,
  title: 'Upper',
  category: 'test',
  description: 'Upper-cases text and repeats it.',
  params: Type.Object({
    times: Type.Integer({ minimum: 1, maximum: 10, default: 1 }),
    mode: Type.Union([Type.Literal('upper'), Type.Literal('lower')], { default: 'upper' }),
  }),
  inputs: { text: { type: 'text' } },
  outputs: { text: { type: 'text' } },
  // v1 called the param `repeat`.
  migrate: { 1: ({ params, inputs }) => ({ params: { times: params.repeat ?? 1 }, inputs }) },
  run({ params, inputs }) {
    count('test/upper');
    const t = params.mode === 'upper' ? inputs.text.toUpperCase() : inputs.text.toLowerCase();
    return { text: t.repeat(params.times) };
  },
});

export const join = defineNode({
  type: 'test/join',
  version: 1,
  title: 'Join',
  category: 'test',
  description: 'Joins two texts.',
  params: Type.Object({ separator: Type.String({ default: ' ' }) }),
  inputs: { a: { type: 'text' }, b: { type: 'text', optional: true } },
  outputs: { text: { type: 'text' } },
  run({ params, inputs }) {
    count('test/join');
    return { text: inputs.b === undefined ? inputs.a : `${inputs.a}${params.separator}${inputs.b}` };
  },
});

export const videoSink = defineNode({
  type: 'test/video-sink',
  version: 1,
  title: 'Video sink',
  category: 'test',
  description: 'Takes a video (for type-mismatch tests).',
  params: Type.Object({}),
  inputs: { video: { type: 'video' } },
  outputs: {},
  run() {
    return {};
  },
});

export const fail = defineNode({
  type: 'test/fail',
  version: 1,
  title: 'Fail',
  category: 'test',
  description: 'Throws, rejects or hangs on purpose.',
  params: Type.Object({
    how: Type.Union(
      [Type.Literal('throw'), Type.Literal('reject'), Type.Literal('hang'), Type.Literal('ignore-abort')],
      { default: 'throw' },
    ),
  }),
  inputs: { text: { type: 'text', optional: true } },
  outputs: { text: { type: 'text' } },
  async run({ params, context }) {
    count('test/fail');
    if (params.how === 'throw') throw new Error('boom');
    if (params.how === 'reject') return Promise.reject(new Error('rejected'));
    if (params.how === 'ignore-abort') {
      await new Promise((r) => setTimeout(r, 300));
      return { text: 'late' };
    }
    await new Promise((_, reject) =>
      context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
    );
    return { text: 'never' };
  },
});

export const slow = defineNode({
  type: 'test/slow',
  version: 1,
  title: 'Slow',
  category: 'test',
  description: 'Waits in steps, reporting progress and honouring cancellation.',
  params: Type.Object({
    steps: Type.Integer({ minimum: 1, default: 5 }),
    ms: Type.Integer({ minimum: 0, default: 10 }),
    label: Type.String({ default: 'slow' }),
  }),
  inputs: { text: { type: 'text', optional: true } },
  outputs: { text: { type: 'text' }, started: { type: 'text' } },
  async run({ params, inputs, context }) {
    count('test/slow');
    const started = String(performance.now());
    for (let i = 0; i < params.steps; i++) {
      context.throwIfCancelled();
      await new Promise((r) => setTimeout(r, params.ms));
      context.progress((i + 1) / params.steps);
    }
    return { text: `${inputs.text ?? ''}${params.label}`, started };
  },
});

export const testPlugin = definePlugin(() => ({
  name: 'test-plugin',
  version: '1.0.0',
  nodes: [textSource, upper, join, videoSink, fail, slow],
}));
