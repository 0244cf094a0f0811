/** `kinegraph worker`: runs a queue worker until SIGINT/SIGTERM. */
import { resolveToken, untilStopSignal } from '../server/serve.js';
import type { QueueWorker, QueueWorkerOptions } from './worker.js';

/**
 * What `kinegraph worker` was given: the worker's own options as {@link QueueWorkerOptions} describes them
 * (`token` here is only `--token`; the environment is consulted too), and where to write.
 */
export interface WorkerCommandOptions
  extends Pick<
    QueueWorkerOptions,
    'queue' | 'server' | 'token' | 'concurrency' | 'device' | 'name' | 'workDir' | 'cwd'
  > {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where `KINEGRAPH_TOKEN` and `KINEGRAPH_TOKEN_FILE` are read from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs a worker until SIGINT/SIGTERM, then hands its running runs back to the queue; resolves to the exit
 * code (0 after a clean stop, 1 when it could not start).
 */
export async function worker(options: WorkerCommandOptions): Promise<number> {
  let running: QueueWorker;
  try {
    // The server's token: --token, else KINEGRAPH_TOKEN, else the file KINEGRAPH_TOKEN_FILE names.
    const token = resolveToken({ token: options.token }, options.env ?? process.env);
    // Loaded here: BullMQ and its Redis client are needed by workers and queue servers only.
    const { QueueWorker } = await import('./worker.js');
    running = await QueueWorker.start({
      queue: options.queue,
      server: options.server,
      cwd: options.cwd,
      log: (m) => options.stderr.write(`${m}\n`),
      ...(token !== undefined ? { token } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.device !== undefined ? { device: options.device } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.workDir !== undefined ? { workDir: options.workDir } : {}),
    });
  } catch (error) {
    const e = error as Error & { code?: string; hint?: string };
    options.stderr.write(`${e.code ?? 'WORKER_FAILED'}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
    return 1;
  }
  const info = running.info();
  options.stderr.write(
    `Kinegraph worker ${info.id} (${info.device}, ${info.concurrency} at a time, ${info.packages.length} plugins) takes runs from the queue\n(Ctrl-C to stop)\n`,
  );
  options.stdout.write(`${info.id}\n`);
  await untilStopSignal();
  options.stderr.write('stopping: handing running runs back to the queue\u2026 (Ctrl-C again to quit at once)\n');
  // Without Redis the runs cannot be handed back; BullMQ gives them to another worker once their locks
  // expire, so waiting longer gains nothing.
  const limit = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_LIMIT_MS).unref());
  const again = new Promise<'again'>((resolve) => process.once('SIGINT', () => resolve('again')));
  const how = await Promise.race([running.close().then(() => 'closed' as const), limit, again]);
  if (how === 'timeout')
    options.stderr.write(
      'could not hand the runs back in time (is Redis reachable?); other workers will take them over\n',
    );
  return 0;
}

/** How long a stopping worker tries to hand its runs back. */
const CLOSE_LIMIT_MS = 15_000;
