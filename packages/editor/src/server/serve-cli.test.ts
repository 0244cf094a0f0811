// `kinegraph serve` through the real CLI binary: prints its URL, answers, stops cleanly on SIGINT, and
// refuses a non-loopback host without a token.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');

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

  it('rejects a bad --port as a usage error', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--port', 'abc'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--port takes a port number/);
  });
});
