// The server's picture of runs in queue mode: live events and durable records folded together.
import { describe, expect, it } from 'vitest';
import type { RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { queuedRun } from '../shared/run-state.js';
import type { StoredRun } from './store.js';
import { RunView } from './view.js';

const worker = { id: 'w', name: 'w', host: 'h', device: 'cpu' };

function setUp() {
  const view = new RunView();
  const messages: ServerMessage[] = [];
  view.subscribe((m) => messages.push(m));
  view.add({
    snapshot: queuedRun('r', 'r', ['a']),
    ver: 0,
    attempt: 0,
    rank: { priority: 5, front: false, round: 1, seq: 1 },
    lastLive: 0,
  });
  messages.length = 0;
  return { view, messages };
}

const running = (attempt: number): RunSnapshot => ({
  ...queuedRun('r', 'r', ['a']),
  status: 'running',
  worker,
  attempt,
});
const record = (ver: number, state: RunSnapshot, attempt = 1): StoredRun => ({
  id: 'r',
  state,
  status: state.status,
  attempt,
  ver,
  round: 1,
  priority: 5,
  cancelRequested: false,
});
const preview = { mime: 'image/png', data: 'AA==', width: 1, height: 1 };

describe('the run view', () => {
  it('passes live events on and keeps the latest preview when a record replaces the state', () => {
    const { view, messages } = setUp();
    view.applyLive({ kind: 'run', runId: 'r', attempt: 1, run: running(1) });
    view.applyLive({
      kind: 'event',
      runId: 'r',
      attempt: 1,
      event: { type: 'node:start', runId: 'r', nodeId: 'a', nodeType: 't' },
    });
    view.applyLive({
      kind: 'event',
      runId: 'r',
      attempt: 1,
      event: { type: 'node:progress', runId: 'r', nodeId: 'a', fraction: 0.5, preview },
    });
    expect(messages.map((m) => m.kind)).toEqual(['run', 'event', 'event']);
    // A record with the same status and attempt while live events flow: nothing new to tell.
    view.applyRecord(record(5, running(1)));
    expect(messages).toHaveLength(3);
    // The end, from the record: told once, previews kept.
    const done = { ...running(1), status: 'done' as const, endedAt: 9 };
    view.applyRecord(record(6, done));
    view.applyRecord(record(7, done));
    view.applyLive({ kind: 'run', runId: 'r', attempt: 1, run: done });
    const ends = messages.filter((m) => m.kind === 'run' && m.run.status === 'done');
    expect(ends).toHaveLength(1);
    expect(view.runs.get('r')?.snapshot.nodes.a?.preview).toEqual(preview);
  });

  it('drops late messages of an earlier attempt', () => {
    const { view, messages } = setUp();
    view.applyLive({ kind: 'run', runId: 'r', attempt: 2, run: running(2) });
    view.applyLive({
      kind: 'event',
      runId: 'r',
      attempt: 1,
      event: { type: 'node:start', runId: 'r', nodeId: 'a', nodeType: 't' },
    });
    expect(messages).toHaveLength(1);
    expect(view.runs.get('r')?.snapshot.nodes.a?.status).toBe('pending');
  });

  it('trusts the record again when live events have been quiet (one may have been lost)', () => {
    const { view } = setUp();
    view.applyLive({ kind: 'run', runId: 'r', attempt: 1, run: running(1) }, 1_000);
    const ahead = { ...running(1), nodes: { a: { status: 'done' as const, progress: 1 } } };
    view.applyRecord(record(3, ahead), 1_500);
    expect(view.runs.get('r')?.snapshot.nodes.a?.status).toBe('pending');
    view.applyRecord(record(4, ahead), 10_000);
    expect(view.runs.get('r')?.snapshot.nodes.a?.status).toBe('done');
  });
});
