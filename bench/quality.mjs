// Quality per step: the evaluator's scores (tests/quality) for each sampler at 10 / 20 / 50 steps, on the
// same held-out and seen prompts and seeds. Runs `tests/quality/run.mjs --samplers` in a child process
// (it loads the nodes through vitest's TS loader) and reads back the JSON it writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PROMPTS = process.env.KG_BENCH_QUALITY_PROMPTS ?? '4';
const SEEDS = process.env.KG_BENCH_QUALITY_SEEDS ?? '0,1';
const STEP_COUNTS = '10,20,50';

const _pct = (x) => `${(100 * x).toFixed(0)}%`;

export async function bench({ quiet = false } = {}) {
  const out = mkdtempSync(join(tmpdir(), 'kg-bench-quality-'));
  try {
    const args = [
      'tests/quality/run.mjs',
      '--samplers',
      '--step-counts',
      STEP_COUNTS,
      '--prompts',
      PROMPTS,
      '--seeds',
      SEEDS,
      '--threads',
      '2',
      '--out',
      out,
      '--name',
      'samplers',
    ];
    const child = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    if (child.status !== 0) {
      const why = `${child.stderr ?? ''}${child.stdout ?? ''}`.trim().split('\n').slice(-5).join('\n');
      if (!quiet) console.log(`\nQuality per step failed (node ${args.join(' ')}):\n${why}`);
      return { failed: why };
    }
    const result = JSON.parse(readFileSync(join(out, 'samplers.json'), 'utf8'));
    if (!quiet) {
      console.log(
        `\nQuality per step (evaluator scores; ${PROMPTS} held-out + ${PROMPTS} seen prompts, seeds ${SEEDS}, guidance ${result.options?.guidance ?? 3})`,
      );
      console.log(
        readFileSync(join(out, 'samplers.md'), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('|'))
          .join('\n'),
      );
    }
    return result;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bench();
