// The run memory budget (#18 item 1): nodes declare what they allocate, and the runtime refuses a run (or
// a node) that would not fit, with MEMORY_BUDGET_EXCEEDED, before anything is allocated; loaders check the
// file's header and the size they are asked to resize to.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultMemoryBudget, type RunEvent, Runtime } from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { gifBomb, maskRectWorkflow } from './crafted.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const GB = 1024 ** 3;
const MB = 1024 ** 2;
const runtime = await Runtime.create({ discover: { cwd: root }, memoryBudgetBytes: 4 * GB, cacheBudgetBytes: 0 });
const out = mkdtempSync(join(tmpdir(), 'kg-budget-'));
afterAll(async () => {
  await runtime.close();
  rmSync(out, { recursive: true, force: true });
});

async function run(doc: unknown, memoryBudgetBytes?: number): Promise<RunEvent[]> {
  return lastValueFrom(
    runtime
      .run(doc, {
        outputFolder: out,
        allowedFolders: [out],
        ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}),
      })
      .pipe(toArray()),
  );
}

const end = (events: RunEvent[]) => events.at(-1)!;

describe('the run memory budget', () => {
  it('defaults to half of what the process may use', () => {
    expect(defaultMemoryBudget()).toBeLessThanOrEqual(totalmem() / 2);
    expect(defaultMemoryBudget()).toBeGreaterThan(0);
  });

  it.each([
    ['the issue\u2019s 149-byte workflow: Mask Rect at 400 × 2048 × 2048', maskRectWorkflow(400, 2048)],
    ['the schema maximum: 10000 × 8192 × 8192', maskRectWorkflow(10000, 8192)],
  ])('refuses %s before any node runs', async (_what, doc) => {
    expect(JSON.stringify(doc).length).toBeLessThan(160);
    const before = process.memoryUsage().rss;
    const events = await run(doc);
    expect(end(events)).toMatchObject({ type: 'run:error', error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'm' } });
    expect(events.some((e) => e.type === 'node:start')).toBe(false);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MB);
    // Hosts can ask before queuing it.
    const prepared = runtime.validate(doc);
    expect(prepared.ok && runtime.checkMemory(prepared.prepared)?.code).toBe('MEMORY_BUDGET_EXCEEDED');
  });

  it('lets what fits run, and a run may set a smaller budget of its own', async () => {
    const small = maskRectWorkflow(16, 64);
    expect(end(await run(small)).type).toBe('run:done');
    // 16 × 64 × 64 floats are 256 KB, twice that with the copy out of the session.
    expect(end(await run(small, 256 * 1024))).toMatchObject({ error: { code: 'MEMORY_BUDGET_EXCEEDED' } });
  });

  it('judges a node whose input size is known only at run time when it runs, from the real shape', async () => {
    // The mask takes its size from the video; the video's size comes from the file.
    const gif = join(out, 'small.gif');
    writeFileSync(gif, gifBomb(256, 8));
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        v: { type: 'kinegraph/load-video', version: 1, params: { path: gif } },
        r: {
          type: 'kinegraph/resize-video',
          version: 1,
          params: { width: 2048, height: 2048, frames: 400 },
          inputs: { video: { node: 'v', output: 'video' } },
        },
      },
    };
    const prepared = runtime.validate(doc);
    expect(prepared.ok && runtime.checkMemory(prepared.prepared)).toBeUndefined();
    const events = await run(doc);
    expect(end(events)).toMatchObject({ type: 'run:error', error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'r' } });
    expect(events.some((e) => e.type === 'node:start' && e.nodeId === 'r')).toBe(false);
  });

  it('loaders refuse a bomb from its header, and a small file asked to come out huge', async () => {
    const bomb = join(out, 'bomb.gif');
    writeFileSync(bomb, gifBomb(2048, 60));
    const load = (params: Record<string, unknown>) => ({
      format: 'kinegraph/workflow@1',
      nodes: { v: { type: 'kinegraph/load-video', version: 1, params } },
    });
    const before = process.memoryUsage().rss;
    expect(end(await run(load({ path: bomb }), GB))).toMatchObject({
      error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'v' },
    });
    const tiny = join(out, 'tiny.gif');
    writeFileSync(tiny, gifBomb(8, 80));
    expect(end(await run(load({ path: tiny, width: 8192, height: 8192 }), GB))).toMatchObject({
      error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'v' },
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * MB);
  });
});
