// Output files sent by workers: staged per attempt, checked, committed by one rename; never half a file.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OUTPUT_LIMITS } from './limits.js';
import { OutputFolder } from './outputs.js';

let outputs: string;
let folder: OutputFolder;
beforeEach(() => {
  outputs = mkdtempSync(join(tmpdir(), 'kg-outputs-'));
  folder = new OutputFolder(outputs);
});
afterEach(() => rmSync(outputs, { recursive: true, force: true }));

/** A request whose body is `chunks`, failing after them when `breakOff`. */
function request(chunks: string[], headers: Record<string, string> = {}, breakOff = false): IncomingMessage {
  const body = Readable.from(
    (async function* () {
      for (const c of chunks) yield Buffer.from(c);
      if (breakOff) throw new Error('connection reset');
    })(),
  );
  return Object.assign(body, { headers }) as unknown as IncomingMessage;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('staging and committing outputs', () => {
  it('stages complete files per attempt and publishes them with one rename', async () => {
    await folder.receive(request(['hel', 'lo']), 'run', 'tokenA', 'a.txt');
    await folder.receive(request(['x']), 'run', 'tokenA', 'sub/b.txt');
    expect(existsSync(join(outputs, 'run'))).toBe(false);
    expect((await folder.staged('run', 'tokenA', 'a.txt')).size).toBe(5);
    await folder.verify('run', 'tokenA', [
      { path: 'a.txt', size: 5, sha256: sha('hello') },
      { path: 'sub/b.txt', size: 1, sha256: sha('x') },
    ]);
    await folder.publish('run', 'tokenA');
    expect(readFileSync(join(outputs, 'run', 'a.txt'), 'utf8')).toBe('hello');
    expect(readdirSync(outputs)).toEqual(['.incoming', 'run']);
    expect(readdirSync(join(outputs, '.incoming'))).toEqual([]);
    await folder.publish('run', 'tokenA'); // A retried commit changes nothing.
    expect(readFileSync(join(outputs, 'run', 'a.txt'), 'utf8')).toBe('hello');
  });

  it('keeps nothing of a broken upload, and refuses a body shorter than announced', async () => {
    await expect(folder.receive(request(['abc'], {}, true), 'run', 't', 'a.txt')).rejects.toMatchObject({
      code: 'UPLOAD_INCOMPLETE',
    });
    await expect(
      folder.receive(request(['abc'], { 'content-length': '10' }), 'run', 't', 'a.txt'),
    ).rejects.toMatchObject({ code: 'UPLOAD_INCOMPLETE' });
    expect(readdirSync(folder.staging('run', 't'))).toEqual([]);
  });

  it('refuses unsafe paths and files over the size limit', async () => {
    await expect(folder.receive(request(['x']), 'run', 't', '../x')).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(
      folder.receive(request(['x'], { 'content-length': String(OUTPUT_LIMITS.fileBytes + 1) }), 'run', 't', 'a'),
    ).rejects.toMatchObject({ status: 413 });
  });

  it('aborts an upload that stalls, and one past the run\u2019s total', async () => {
    const tight = new OutputFolder(outputs, {
      ...OUTPUT_LIMITS,
      totalBytes: 8,
      idleMs: 100,
      totalMs: 10_000,
      retryForMs: 0,
    });
    const stalling = Object.assign(
      Readable.from(
        (async function* () {
          yield Buffer.from('abc');
          await new Promise((r) => setTimeout(r, 5_000));
        })(),
      ),
      { headers: {} },
    ) as unknown as IncomingMessage;
    await expect(tight.receive(stalling, 'run', 't', 'slow.txt')).rejects.toMatchObject({
      status: 408,
      code: 'UPLOAD_TIMEOUT',
    });
    await tight.receive(request(['12345']), 'run', 't', 'a.txt');
    await expect(tight.receive(request(['12345']), 'run', 't', 'b.txt')).rejects.toMatchObject({
      code: 'RUN_OUTPUTS_TOO_LARGE',
    });
    expect(readdirSync(tight.staging('run', 't'))).toEqual(['a.txt']);
  });

  it('refuses a commit that does not match what was staged', async () => {
    await folder.receive(request(['hello']), 'run', 't', 'a.txt');
    await expect(folder.verify('run', 't', [{ path: 'a.txt', size: 5, sha256: sha('other') }])).rejects.toMatchObject({
      code: 'COMMIT_MISMATCH',
    });
    await expect(folder.verify('run', 't', [])).rejects.toMatchObject({ code: 'COMMIT_MISMATCH' });
    await expect(folder.staged('run', 't', 'nope.txt')).rejects.toMatchObject({ status: 404 });
  });
});
