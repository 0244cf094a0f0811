// The attack suite of the hardening issue (#18 item 4) against a real `kinegraph serve` under a 4 GB memory
// limit (a cgroup: see memory-limit.mjs): each attack gets only coded answers (4xx, or a run ending in a
// coded error), the server survives, a legitimate text-to-video run completes after it, and the server's
// resident memory afterwards is within BOUND of what it held after its first run. Figures are printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS, LIMIT_BYTES, runAttacks } from './attacks.mjs';

const MB = 1024 * 1024;
/**
 * How far above its settled baseline the server may be after an attack and a legitimate run: buffers an
 * attack made are garbage until V8's next collection, which an idle server does not hurry (20 uploads of
 * 49 MB leave ≈ 400 MB of it). No attack may leave more; none may leave memory that a later one adds to.
 */
const BOUND = 512 * MB;

type Row = Awaited<ReturnType<typeof runAttacks>>['rows'][number];
let result: Awaited<ReturnType<typeof runAttacks>>;
const rows = new Map<string, Row>();

beforeAll(async () => {
  result = await runAttacks({ onRow: (row: Row) => rows.set(row.attack, row) });
  const line = (r: Row) =>
    `${r.attack.padEnd(78)} peak ${(r.peakBytes / MB).toFixed(0).padStart(5)} MB  after ${(r.afterBytes / MB).toFixed(0).padStart(5)} MB  ${r.answers.join(', ')}`;
  console.log(
    `server under ${result.mechanism}${result.limitBytes ? ` (${LIMIT_BYTES / MB} MB)` : ''}; baseline after a first run ${(result.baseline / MB).toFixed(0)} MB\n${[...rows.values()].map(line).join('\n')}`,
  );
}, 400_000);

afterAll(() => undefined);

describe('attacks on kinegraph serve under a memory limit', () => {
  it('ran under a memory limit, and nothing was killed for memory', () => {
    expect(result.mechanism).toMatch(/^cgroup/);
    expect(result.oomKills).toBe(0);
  });

  it.each(ATTACKS.map((a: { name: string }) => a.name))('%s', (name: string) => {
    const row = rows.get(name)!;
    expect(row, `${name} did not run`).toBeDefined();
    expect(row.answers, 'only the expected coded answers').toSatisfy(() => row.ok);
    expect(row.alive).toBe(true);
    expect(row.legitimate).toBe('done');
    expect(row.peakBytes).toBeLessThan(LIMIT_BYTES);
    expect(row.afterBytes - row.baselineBytes).toBeLessThan(BOUND);
  });
});
