// Kinegraph vs PyTorch eager (the training code's STUNet and sampler, Debian's torch) on text-to-video:
// same steps, sampler, guidance and thread count, interleaved; wall time of the sampling loop per video.
// Needs /usr/bin/python3 with torch (apt-get install python3-torch); skipped with a message otherwise.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import { Runtime } from '../packages/core/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const STEPS = 25;
const THREADS = 2;

function torchAt(threads) {
  // Two videos per process, the second counted: the first pays torch's one-time set-up, as Kinegraph's
  // warm-up round does on its side.
  const r = spawnSync(
    '/usr/bin/python3',
    [join(root, 'bench/torch_t2v.py'), '--steps', String(STEPS), '--threads', String(threads), '--reps', '2'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout.trim().split('\n').at(-1)).ms.at(-1);
}

// PyTorch's OpenMP threads spin-wait: on a loaded 2-core machine 2 threads can be ~9x slower than 1.
// Fair to torch: its faster setting of 1 and 2 threads counts.
function torchOnce() {
  const times = [torchAt(1), torchAt(THREADS)].filter((t) => t !== undefined);
  return times.length ? Math.min(...times) : undefined;
}

export async function bench({ quiet = false, reps = Number(process.env.KG_BENCH_REPS ?? 3) } = {}) {
  if (torchOnce() === undefined) {
    if (!quiet)
      console.log(
        '\nPyTorch comparison skipped: /usr/bin/python3 with torch and training/checkpoints/latest.pt are needed.',
      );
    return { skipped: true };
  }
  const runtime = await Runtime.create({ discover: { cwd: root }, cacheBudgetBytes: 0, threads: THREADS });
  const doc = JSON.parse(readFileSync(join(root, 'workflows/text-to-video.json'), 'utf8'));
  // The sampling loop only, as on the torch side: the pack and prompt come from the cache.
  const gen = (seed) => ({
    ...doc,
    nodes: {
      pack: doc.nodes.pack,
      prompt: doc.nodes.prompt,
      sampler: { ...doc.nodes.sampler, params: { ...doc.nodes.sampler.params, steps: STEPS, previewEvery: 0, seed } },
    },
  });
  const kg = [];
  const torch = [];
  for (let r = 0; r <= reps; r++) {
    const events = await lastValueFrom(
      runtime.run(gen(r), { outputFolder: '/tmp', allowedFolders: [] }).pipe(toArray()),
    );
    const sampler = events.find((e) => e.type === 'node:done' && e.nodeId === 'sampler');
    if (!sampler) throw new Error(JSON.stringify(events.at(-1)));
    const ms = torchOnce();
    if (r === 0) continue; // warm-up round for both
    kg.push(sampler.ms);
    torch.push(ms);
  }
  await runtime.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const result = {
    steps: STEPS,
    threads: THREADS,
    kinegraphMs: median(kg),
    torchMs: median(torch),
    speedup: median(torch) / median(kg),
  };
  if (!quiet) {
    console.log(
      `\nText-to-video sampling, ${STEPS} steps dpmpp-2m, CFG 3 (batch 2), Kinegraph ${THREADS} ORT threads, PyTorch best of 1 and ${THREADS} threads, median of ${reps}, interleaved`,
    );
    console.log(
      `| Kinegraph ms | PyTorch eager ms | Kinegraph speed-up (target >= 1.5x) |\n| ---: | ---: | ---: |\n| ${result.kinegraphMs.toFixed(0)} | ${result.torchMs.toFixed(0)} | ${result.speedup.toFixed(2)}x |`,
    );
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bench();
