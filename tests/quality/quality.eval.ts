/**
 * Entry of the quality evaluation when run by run.mjs (not part of `npm test`): reads its options from
 * KINEGRAPH_QUALITY (JSON), runs the evaluation or the sampler comparison and writes tests/quality/results.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import {
  compareSamplers,
  type EvaluateOptions,
  evaluate,
  FULL_OPTIONS,
  reportMarkdown,
  SMOKE_OPTIONS,
  samplersMarkdown,
} from './evaluate.js';

interface RunSpec {
  readonly mode: 'evaluate' | 'samplers';
  /** The base option set (the sampler comparison always starts from the smoke set). */
  readonly set: 'full' | 'smoke';
  readonly options: Partial<EvaluateOptions>;
  readonly stepCounts?: readonly number[];
  readonly samplers?: readonly EvaluateOptions['sampler'][];
  readonly out: string;
  readonly name: string;
}

const spec = JSON.parse(process.env.KINEGRAPH_QUALITY ?? 'null') as RunSpec | null;

test.skipIf(!spec)('quality evaluation', async () => {
  const s = spec!;
  const base = s.mode === 'samplers' || s.set === 'smoke' ? SMOKE_OPTIONS : FULL_OPTIONS;
  const options: EvaluateOptions = { ...base, ...s.options };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  mkdirSync(s.out, { recursive: true });
  if (s.mode === 'samplers') {
    const result = await compareSamplers(options, s.stepCounts, s.samplers, log);
    writeFileSync(join(s.out, `${s.name}.json`), `${JSON.stringify(result, null, 1)}\n`);
    writeFileSync(join(s.out, `${s.name}.md`), samplersMarkdown(result));
    process.stderr.write(`\n${samplersMarkdown(result)}\n`);
    expect(result.rows.length).toBeGreaterThan(0);
  } else {
    const report = await evaluate(options, log);
    writeFileSync(join(s.out, `${s.name}.json`), `${JSON.stringify(report, null, 1)}\n`);
    writeFileSync(join(s.out, `${s.name}.md`), reportMarkdown(report));
    process.stderr.write(`\n${reportMarkdown(report)}\n`);
    expect(report.t2v.seen.n).toBe(options.prompts * options.seeds.length);
  }
});
