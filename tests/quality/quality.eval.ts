/**
 * Entry of the quality evaluation when run by run.mjs (not part of `npm test`): reads its options from
 * KINEGRAPH_QUALITY (JSON), runs the evaluation or the sampler comparison and writes tests/quality/results.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import {
  compareSamplers,
  DEFAULT_OPTIONS,
  type EvaluateOptions,
  evaluate,
  reportMarkdown,
  samplersMarkdown,
} from './evaluate.js';

interface RunSpec {
  readonly mode: 'evaluate' | 'samplers';
  readonly options: Partial<EvaluateOptions>;
  readonly stepCounts?: readonly number[];
  readonly samplers?: readonly EvaluateOptions['sampler'][];
  readonly out: string;
  readonly name: string;
}

const spec = JSON.parse(process.env.KINEGRAPH_QUALITY ?? 'null') as RunSpec | null;

test.skipIf(!spec)('quality evaluation', async () => {
  const s = spec!;
  const options: EvaluateOptions = { ...DEFAULT_OPTIONS, ...s.options };
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
    expect(report.t2v.samples.length).toBe(2 * options.prompts * options.seeds.length);
  }
});
