// `kinegraph serve` through the real CLI binary: prints its URL, answers, stops cleanly on SIGINT, and
// refuses a non-loopback host without a token.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');

/** Starts `kinegraph serve` with `args` in `cwd`; resolves to the child and the URL it printed. */
async function startServe(cwd: string, args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) resolve(line.trim());
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${err}`)));
  });
  return { child, url };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGINT');
  return exited;
}

describe('kinegraph serve', () => {
  it('serves on a free port until Ctrl-C', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kg-serve-cli-'));
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('http://'));
          if (line) resolve(line.trim());
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(`${url}api/health`);
      expect(res.status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('refuses to listen beyond loopback without --token (exit 1, coded message)', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--host', '0.0.0.0', '--port', '0'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^TOKEN_REQUIRED: /);
  });

  it('--token-file: the token is the file\u2019s first line, required on every request; a readable file is refused', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kg-serve-token-'));
    try {
      writeFileSync(join(cwd, 'token'), 'a-token-from-a-file-0123\n');
      chmodSync(join(cwd, 'token'), 0o600);
      const { child, url } = await startServe(cwd, ['--token-file', 'token']);
      try {
        expect(url).toMatch(/\?token=a-token-from-a-file-0123$/);
        const base = url.slice(0, url.indexOf('?'));
        expect((await fetch(`${base}api/health`)).status).toBe(401);
        const ok = await fetch(`${base}api/health`, { headers: { authorization: 'Bearer a-token-from-a-file-0123' } });
        expect(ok.status).toBe(200);
        expect(await stop(child)).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      chmodSync(join(cwd, 'token'), 0o644);
      const readable = spawnSync(process.execPath, [cli, 'serve', '--port', '0', '--token-file', 'token'], {
        cwd,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(readable.status).toBe(1);
      expect(readable.stderr).toMatch(/^TOKEN_FILE_INVALID: The token file .* may be read by other users\./);
      const both = spawnSync(process.execPath, [cli, 'serve', '--token', 'x'.repeat(16), '--token-file', 'token'], {
        cwd,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(both.status).toBe(1);
      expect(both.stderr).toContain('--token or --token-file, not both');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('--memory sets each run\u2019s budget: a run known to need more is refused before it is queued', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kg-serve-memory-'));
    // A plugin whose one node declares 2 MB (and allocates nothing), as a built plugin is: plain JS.
    mkdirSync(join(cwd, 'plugins', 'big'), { recursive: true });
    writeFileSync(
      join(cwd, 'plugins', 'big', 'package.json'),
      JSON.stringify({ name: 'big', type: 'module', kinegraph: { apiVersion: 1, plugins: ['index.js'] } }),
    );
    writeFileSync(
      join(cwd, 'plugins', 'big', 'index.js'),
      `export default () => ({ name: 'big', nodes: [{ type: 'big/node', version: 1, title: 'Big', category: 'test',
        description: 'Declares 2 MB.', params: { type: 'object', properties: {} }, inputs: {}, outputs: {},
        memory: () => ({ outputs: {}, scratchBytes: 2000000 }), run: () => ({}) }] });`,
    );
    try {
      const { child, url } = await startServe(cwd, ['--memory', '1MB']);
      try {
        const post = (body: unknown) =>
          fetch(`${url}api/runs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const workflow = { format: 'kinegraph/workflow@1', nodes: { b: { type: 'big/node', version: 1 } } };
        const refused = await post(workflow);
        expect(refused.status).toBe(400);
        expect(await refused.json()).toMatchObject({ error: { code: 'MEMORY_BUDGET_EXCEEDED' } });
        // A submission may ask for less than the server's budget, never for more.
        const more = await post({ workflow, memoryBudgetBytes: 4_000_000 });
        expect(more.status).toBe(400);
        expect(await stop(child)).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      const enough = await startServe(cwd, ['--memory', '4MB']);
      try {
        const res = await fetch(`${enough.url}api/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ format: 'kinegraph/workflow@1', nodes: { b: { type: 'big/node', version: 1 } } }),
        });
        expect(res.status).toBe(202);
        expect(await stop(enough.child)).toBe(0);
      } finally {
        enough.child.kill('SIGKILL');
      }
      const bad = spawnSync(process.execPath, [cli, 'serve', '--memory', 'plenty'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('--memory takes a size such as 2GB');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('rejects a bad --port as a usage error', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--port', 'abc'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--port takes a port number/);
  });
});
