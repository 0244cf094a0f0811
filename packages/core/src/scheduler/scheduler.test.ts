import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { NodeRegistry } from '../registry/registry.js';
import { calls, testPlugin } from '../test-support/plugin.js';
import { validateWorkflow } from '../validate/validate.js';
import type { RunEvent } from './events.js';
import { OutputCache } from './output-cache.js';
import { executeWorkflow } from './scheduler.js';

const registry = new NodeRegistry();
registry.register(await testPlugin());
const out = await mkdtemp(join(tmpdir(), 'kg-sched-'));

function prepare(doc: unknown) {
  const result = validateWorkflow(doc, registry);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.prepared;
}

// These graphs make no tensors: a store request means the scheduler started a worker it did not need.
const noStore = () => Promise.reject(new Error('store requested'));

function run(
  doc: unknown,
  cache = new OutputCache(() => undefined, 1 << 20),
  extra: { signal?: AbortSignal; nodeTimeoutMs?: number } = {},
) {
  return lastValueFrom(
    executeWorkflow(prepare(doc), { store: noStore, cache, outputFolder: out, allowedFolders: [out], ...extra }).pipe(
      toArray(),
    ),
  );
}

const chain = (text: string, times = 1) => ({
  format: 'kinegraph/workflow@1',
  nodes: {
    prompt: { type: 'test/text', version: 1, params: { text } },
    shout: { type: 'test/upper', version: 2, params: { times }, inputs: { text: { node: 'prompt', output: 'text' } } },
    other: { type: 'test/text', version: 1, params: { text: 'b' } },
    joined: {
      type: 'test/join',
      version: 1,
      inputs: { a: { node: 'shout', output: 'text' }, b: { node: 'other', output: 'text' } },
    },
  },
});

const types = (events: RunEvent[]) =>
  events.map((e) => ('nodeId' in e && e.type !== 'run:error' ? `${e.type}:${e.nodeId}` : e.type));

beforeEach(() => calls.clear());

describe('scheduler', () => {
  it('runs nodes in dependency order and ends with run:done', async () => {
    const events = await run(chain('hi'));
    const order = types(events);
    expect(order[0]).toBe('run:start');
    expect(order.at(-1)).toBe('run:done');
    expect(order.indexOf('node:done:shout')).toBeGreaterThan(order.indexOf('node:done:prompt'));
    expect(order.indexOf('node:start:joined')).toBeGreaterThan(order.indexOf('node:done:shout'));
    const done = events.find((e) => e.type === 'node:done' && e.nodeId === 'joined');
    expect(done && done.type === 'node:done' && done.outputs.text).toEqual({ kind: 'value', value: 'HI b' });
  });

  it('re-runs only the changed node and what depends on it', async () => {
    const cache = new OutputCache(() => undefined, 1 << 20);
    await run(chain('hi', 1), cache);
    expect(calls.get('test/upper')).toBe(1);
    calls.clear();
    const second = await run(chain('hi', 2), cache);
    expect(
      types(second)
        .filter((t) => t.startsWith('node:cached'))
        .sort(),
    ).toEqual(['node:cached:other', 'node:cached:prompt']);
    expect(calls.get('test/text')).toBeUndefined();
    expect(calls.get('test/upper')).toBe(1);
    expect(calls.get('test/join')).toBe(1);
    calls.clear();
    const third = await run(chain('hi', 2), cache);
    expect(types(third).filter((t) => t.startsWith('node:start'))).toEqual([]);
    const end = third.at(-1)!;
    expect(end.type === 'run:done' && end.cached.length).toBe(4);
  });

  it('evicts least recently used outputs past the cache budget', () => {
    const cache = new OutputCache(() => undefined, 2500);
    cache.set('a', { x: 1 });
    cache.set('b', { x: 2 });
    expect(cache.get('a')).toEqual({ x: 1 }); // a is now the most recent
    cache.set('c', { x: 3 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(new OutputCache(() => undefined, 0).stats().budgetBytes).toBe(0);
  });

  it('runs independent branches concurrently', async () => {
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        a: { type: 'test/slow', version: 1, params: { steps: 4, ms: 25, label: 'a' } },
        b: { type: 'test/slow', version: 1, params: { steps: 4, ms: 25, label: 'b' } },
        j: {
          type: 'test/join',
          version: 1,
          inputs: { a: { node: 'a', output: 'text' }, b: { node: 'b', output: 'text' } },
        },
      },
    };
    const events = await run(doc);
    const order = types(events);
    // Both started before either finished.
    expect(order.indexOf('node:start:b')).toBeLessThan(order.indexOf('node:done:a'));
    expect(events.filter((e) => e.type === 'node:progress' && e.nodeId === 'a').length).toBe(4);
  });

  it('fails the run with the failing node named, never the process, for throws and rejections', async () => {
    for (const how of ['throw', 'reject']) {
      const events = await run({
        format: 'kinegraph/workflow@1',
        nodes: { f: { type: 'test/fail', version: 1, params: { how } } },
      });
      const end = events.at(-1)!;
      expect(end.type).toBe('run:error');
      expect(end.type === 'run:error' && end.nodeId).toBe('f');
      expect(end.type === 'run:error' && end.error.message).toMatch(/boom|rejected/);
      expect(types(events)).toContain('node:error:f');
    }
  });

  it('aborts sibling nodes when one fails, and the next run works', async () => {
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        s: { type: 'test/slow', version: 1, params: { steps: 100, ms: 10 } },
        f: { type: 'test/fail', version: 1 },
      },
    };
    const events = await run(doc);
    expect(events.filter((e) => e.type === 'node:error').map((e) => 'nodeId' in e && e.nodeId)).toEqual(['f']);
    expect(types(events)).not.toContain('node:done:s');
    expect((await run(chain('ok'))).at(-1)!.type).toBe('run:done');
  });

  it('cancels through an AbortSignal that reaches the running node', async () => {
    const controller = new AbortController();
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: { s: { type: 'test/slow', version: 1, params: { steps: 1000, ms: 5 } } },
    };
    setTimeout(() => controller.abort(), 60);
    const started = performance.now();
    const events = await run(doc, undefined, { signal: controller.signal });
    expect(events.at(-1)!.type).toBe('run:cancelled');
    expect(performance.now() - started).toBeLessThan(3000);
    expect(types(events)).not.toContain('node:error:s');
  });

  it('does not wait for a node that ignores cancellation', async () => {
    const controller = new AbortController();
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: { h: { type: 'test/fail', version: 1, params: { how: 'hang' } } },
    };
    setTimeout(() => controller.abort(), 30);
    expect((await run(doc, undefined, { signal: controller.signal })).at(-1)!.type).toBe('run:cancelled');
  });

  it('times out a hanging node with NODE_TIMEOUT', async () => {
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: { h: { type: 'test/fail', version: 1, params: { how: 'ignore-abort' } } },
    };
    const end = (await run(doc, undefined, { nodeTimeoutMs: 50 })).at(-1)!;
    expect(end.type === 'run:error' && end.error.code).toBe('NODE_TIMEOUT');
  });

  it('unsubscribing cancels the run', async () => {
    const seen: RunEvent[] = [];
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: { s: { type: 'test/slow', version: 1, params: { steps: 1000, ms: 5 } } },
    };
    const sub = executeWorkflow(prepare(doc), {
      store: noStore,
      cache: new OutputCache(() => undefined, 0),
      outputFolder: out,
      allowedFolders: [out],
    }).subscribe((e) => seen.push(e));
    await new Promise((r) => setTimeout(r, 40));
    sub.unsubscribe();
    const before = calls.get('test/slow');
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.get('test/slow')).toBe(before);
    expect(seen.some((e) => e.type === 'node:start')).toBe(true);
  });
});
