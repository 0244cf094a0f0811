/**
 * Child processes for tests: a real `redis-server` on a free loopback port with a folder of its own, and a
 * process wrapper that keeps output for failure messages. Every process is stopped by its pid.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** Whether this machine has `redis-server` (CI installs it; tests skip, saying why, without it). */
export const hasRedis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A child process with its output kept for failure messages. */
export class Proc {
  output = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** The first stdout line matching `pattern` (rejects if the process exits first). */
  line(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`timed out; output:\n${this.output}`)), timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString();
        const found = out.split('\n').find((l) => pattern.test(l));
        if (found) {
          clearTimeout(timer);
          this.child.stdout?.off('data', onData);
          resolve(found.trim());
        }
      };
      this.child.stdout?.on('data', onData);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code}; output:\n${this.output}`));
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A redis-server of the test's own. */
export class TestRedis {
  proc!: Proc;
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly args: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts Redis with AOF written on every command (`appendfsync always`): nothing acknowledged is lost. */
  static async start(dir: string): Promise<TestRedis> {
    const port = await freePort();
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ];
    const redis = new TestRedis(port, dir, args);
    await redis.restart();
    return redis;
  }

  async restart(): Promise<void> {
    this.proc = new Proc(spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    await this.proc.line(/Ready to accept connections/);
  }

  /** A client for looking inside (tests only). */
  client(): Redis {
    return new Redis(this.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }
}
