// Subgraphs, mute and partial runs in queue mode: the server validates and queues them, a worker (whose
// plugins must cover only the nodes that run) executes them with the same expansion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody, ServerMessage } from '../../packages/editor/src/shared/protocol.js';
import { api, LiveClient } from '../../packages/editor/src/testing/client.js';
import { hasRedis, jobs, Rig, startQueue, submit } from './harness.js';

const rig = new Rig();
let base: string;

beforeAll(async () => {
  if (!hasRedis) return;
  base = (await startQueue(rig, 'graph')).server.url;
}, 120_000);

afterAll(() => rig.stop(), 60_000);

const workflow = {
  format: 'kinegraph/workflow@1',
  name: 'subgraph in the queue',
  nodes: {
    text: { type: 'qtest/text', version: 1, params: { value: 'hello' } },
    twice: {
      type: 'subgraph/twice',
      version: 1,
      params: { ms: 5 },
      inputs: { text: { node: 'text', output: 'text' } },
    },
    write: {
      type: 'qtest/write',
      version: 1,
      params: { name: 'graph' },
      inputs: { text: { node: 'twice', output: 'text' } },
    },
    // No worker has this plugin: muted, it is not needed.
    ghost: { type: 'acme/not-installed', version: 1, mode: 'mute', inputs: { text: { node: 'text', output: 'text' } } },
  },
  subgraphs: {
    twice: {
      name: 'Twice',
      inputs: { text: { type: 'text' } },
      outputs: { text: { node: 'b', output: 'text' } },
      params: { ms: { node: 'a', param: 'ms' } },
      nodes: {
        a: {
          type: 'qtest/slow',
          version: 1,
          params: { ms: 0, tag: 'a' },
          inputs: { text: { node: '$input', output: 'text' } },
        },
        b: {
          type: 'qtest/slow',
          version: 1,
          params: { ms: 0, tag: 'b' },
          inputs: { text: { node: 'a', output: 'text' } },
        },
      },
    },
  },
};

describe.skipIf(!hasRedis)('subgraphs, mute and partial runs in queue mode', () => {
  it('a worker runs the subgraph as its inner nodes; the muted node of a missing plugin is skipped', async () => {
    const live = await LiveClient.connect(base);
    try {
      const id = await submit(base, workflow);
      const end = (await live.waitForEnd(id, 60_000)) as Extract<ServerMessage, { kind: 'run' }>;
      expect(end.run.status, JSON.stringify(end.run.error)).toBe('done');
      expect(end.run.nodes['twice:a']?.status).toBe('done');
      expect(end.run.nodes['twice:b']?.status).toBe('done');
      expect(end.run.nodes.ghost?.status).toBe('skipped');
      expect(end.run.files).toHaveLength(1);
    } finally {
      live.close();
    }
  }, 90_000);

  it('"targets" runs only what they need, on the worker too', async () => {
    const live = await LiveClient.connect(base);
    try {
      const id = await submit(base, workflow, { targets: ['twice'] });
      const end = (await live.waitForEnd(id, 60_000)) as Extract<ServerMessage, { kind: 'run' }>;
      expect(end.run.status).toBe('done');
      expect(end.run.targets).toEqual(['twice']);
      expect(end.run.order).toEqual(['text', 'twice:a', 'twice:b']);
      expect(end.run.executed.concat(end.run.cached).sort()).toEqual(['text', 'twice:a', 'twice:b']);
      expect(end.run.files).toEqual([]);
    } finally {
      live.close();
    }
  }, 90_000);

  it('an invalid workflow is refused before it is queued, every problem listed', async () => {
    // The ghost node, not muted now: no plugin has its type.
    const ghost = { type: 'acme/not-installed', version: 1, inputs: { text: { node: 'text', output: 'text' } } };
    const unmuted = { ...workflow, nodes: { ...workflow.nodes, ghost } };
    const { status, body } = await api<ErrorBody>(base, '/api/runs', { method: 'POST', json: { workflow: unmuted } });
    expect(status).toBe(400);
    expect(body.error.code).toBe('WORKFLOW_INVALID');
    expect(body.issues?.map((i) => i.nodeId)).toContain('ghost');
    // Nothing partial ran out of it: only the runs of the tests above are listed.
    expect((await jobs(base)).length).toBe(2);
  });
});
