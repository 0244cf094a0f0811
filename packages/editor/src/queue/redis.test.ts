// The `--queue` URL.
import { describe, expect, it } from 'vitest';
import { parseQueueUrl } from './redis.js';

describe('--queue URLs', () => {
  it('reads host, port, database, password and the queue name, and never shows the password', () => {
    expect(parseQueueUrl('redis://127.0.0.1:6379')).toEqual({
      url: 'redis://127.0.0.1:6379',
      display: 'redis://127.0.0.1:6379/0',
      name: 'kinegraph',
    });
    const withAll = parseQueueUrl('rediss://:s3cret@cache.example:6380/2?name=team-a');
    expect(withAll.name).toBe('team-a');
    expect(withAll.url).toBe('rediss://:s3cret@cache.example:6380/2');
    expect(withAll.display).toBe('rediss://cache.example:6380/2');
  });

  it.each(['localhost:6379', 'http://localhost:6379', 'redis://', 'redis://host/abc', 'redis://host?name=a b'])(
    'refuses %s with QUEUE_URL_INVALID',
    (url) => {
      expect(() => parseQueueUrl(url)).toThrow(expect.objectContaining({ code: 'QUEUE_URL_INVALID' }));
    },
  );

  it('does not print a password in its error', () => {
    expect(() => parseQueueUrl('redis://:pw@host/abc')).toThrow(/\*\*\*@host/);
  });
});
