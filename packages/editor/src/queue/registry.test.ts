import { describe, expect, it } from 'vitest';
import type { WorkerInfo } from './backend.js';
import { isFree } from './registry.js';

const worker = (running: string[], concurrency = 1): WorkerInfo => ({
  id: 'w1',
  name: 'w1',
  host: 'localhost',
  device: 'cpu',
  concurrency,
  running,
  packages: [],
  startedAt: 0,
  lastSeen: 0,
});

describe('isFree', () => {
  it('counts the runs a worker lists against its concurrency; a worker that is gone is never free', () => {
    expect(isFree(worker([]))).toBe(true);
    expect(isFree(worker(['a']))).toBe(false);
    expect(isFree(worker(['a'], 2))).toBe(true);
    expect(isFree(undefined)).toBe(false);
  });

  it('does not count a run the caller knows has ended (the worker has not announced its free slot yet)', () => {
    const ended = (id: string) => id === 'a';
    expect(isFree(worker(['a']), ended)).toBe(true);
    expect(isFree(worker(['a', 'b'], 2), ended)).toBe(true);
    expect(isFree(worker(['b']), ended)).toBe(false);
  });
});
