#!/usr/bin/env node
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Quality evaluation CLI (see tests/quality/README.md). Needs `npm run build` (for @kinegraph/core's dist);
// the nodes run from their TypeScript sources through vitest, which is only the TS loader here.
//
//   node tests/quality/run.mjs            the full evaluation the targets are judged on (216 clips, ~15 min):
//                                         up to 5 prompts per held-out rule + 27 seen prompts × seeds
//                                         1000-1003, dpmpp-2m 25 steps, 12 conditioning sources
//   node tests/quality/run.mjs --smoke    the fast set (14 + 14 prompts × seeds 0,1, 20 steps; ~1.5 min)
//   options for either: [--steps N] [--sampler dpmpp-2m] [--seeds 0,1] [--prompts N] [--prompts-per-rule N]
//                       [--conditioned N] [--guidance 3] [--composite] [--threads 2] [--pack kinegraph-tiny|DIR]
//                       [--out tests/quality/results] [--name latest|smoke] [--save-clips PREFIX]
//   --pack DIR (any value with a /) evaluates an exported pack folder that is not installed, e.g. a candidate
//   checkpoint: python3 training/export.py --out /tmp/cand/kinegraph-tiny, then --pack /tmp/cand/kinegraph-tiny
//   node tests/quality/run.mjs --samplers [--step-counts 10,20,50] [--sampler-list ddim,dpmpp-2m,euler] ...
import { parseArgs } from 'node:util';
import { startVitest } from 'vitest/node';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    sampler: { type: 'string' },
    seeds: { type: 'string' },
    prompts: { type: 'string' },
    'prompts-per-rule': { type: 'string' },
    smoke: { type: 'boolean' },
    conditioned: { type: 'string' },
    guidance: { type: 'string' },
    composite: { type: 'boolean' },
    threads: { type: 'string' },
    pack: { type: 'string' },
    manifest: { type: 'string' },
    'prompt-seed': { type: 'string' },
    samplers: { type: 'boolean' },
    'step-counts': { type: 'string' },
    'sampler-list': { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    'save-clips': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  // The usage is the comment at the top of this file.
  const lines = (await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const usage = lines.slice(
    1,
    lines.findIndex((l) => l.startsWith('import ')),
  );
  process.stdout.write(`${usage.map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
  process.exit(0);
}

const int = (name, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
};
const list = (name, v) =>
  v
    .split(',')
    .filter(Boolean)
    .map((x) => int(name, x));
const SAMPLERS = ['ddim', 'dpmpp-2m', 'euler'];
const sampler = (v) => {
  if (!SAMPLERS.includes(v)) throw new Error(`unknown sampler "${v}" (${SAMPLERS.join(', ')})`);
  return v;
};

const pack = values.pack ?? 'kinegraph-tiny';
const options = {
  pack,
  ...(values.manifest !== undefined && { manifestPath: resolve(values.manifest) }),
  ...(values.steps !== undefined && { steps: int('steps', values.steps) }),
  ...(values.sampler !== undefined && { sampler: sampler(values.sampler) }),
  ...(values.seeds !== undefined && { seeds: list('seeds', values.seeds) }),
  ...(values.prompts !== undefined && { prompts: int('prompts', values.prompts) }),
  ...(values['prompts-per-rule'] !== undefined && {
    promptsPerRule: int('prompts-per-rule', values['prompts-per-rule']),
  }),
  ...(values.conditioned !== undefined && { conditioned: int('conditioned', values.conditioned) }),
  ...(values.guidance !== undefined && { guidance: Number(values.guidance) }),
  ...(values.composite && { composite: true }),
  ...(values.threads !== undefined && { threads: int('threads', values.threads) }),
  ...(values['prompt-seed'] !== undefined && { promptSeed: int('prompt-seed', values['prompt-seed']) }),
};
const mode = values.samplers ? 'samplers' : 'evaluate';
const set = values.smoke ? 'smoke' : 'full';
const out = resolve(values.out ?? join(here, 'results'));
const name = values.name ?? (mode === 'samplers' ? 'samplers' : set === 'smoke' ? 'smoke' : 'latest');
// Generated clips in the fixture format, for a look or a re-analysis (loadTruth reads them).
if (values['save-clips']) options.clipsPrefix = resolve(values['save-clips']);
const spec = {
  mode,
  set,
  options,
  ...(values['step-counts'] && { stepCounts: list('step-counts', values['step-counts']) }),
  ...(values['sampler-list'] && { samplers: values['sampler-list'].split(',').map(sampler) }),
  out,
  name,
};

process.env.KINEGRAPH_QUALITY = JSON.stringify(spec);
process.chdir(root); // the pack is found under ./models
const vitest = await startVitest('test', [], {
  config: join(here, 'vitest.config.ts'),
  run: true,
  watch: false,
  reporters: ['default'],
});
await vitest?.close();
const failed = !vitest || vitest.state.getCountOfFailedTests() > 0;
process.exitCode = failed ? 1 : 0;
if (!failed) process.stdout.write(`\nwrote ${join(spec.out, spec.name)}.json and .md\n`);
