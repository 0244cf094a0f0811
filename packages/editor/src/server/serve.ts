/** `kinegraph serve`: starts the server and keeps it up until Ctrl-C. */
import { startServer } from './server.js';

/** What `kinegraph serve` was given. */
export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly token?: string;
  /** Redis URL of a shared queue (`--queue`): runs go to `kinegraph worker` processes. */
  readonly queue?: string;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * Runs the server until SIGINT/SIGTERM; resolves to the exit code (0 after a clean stop, 1 when it could
 * not start: port taken, non-loopback host without a token).
 */
export async function serve(options: ServeOptions): Promise<number> {
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      cwd: options.cwd,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.queue !== undefined ? { queue: options.queue } : {}),
    });
  } catch (error) {
    const e = error as Error & { code?: string; hint?: string };
    const code = e.code === 'EADDRINUSE' ? 'PORT_IN_USE' : (e.code ?? 'SERVE_FAILED');
    const hint = e.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --port.' : e.hint;
    options.stderr.write(`${code}: ${e.message}${hint ? `\n  hint: ${hint}` : ''}\n`);
    return 1;
  }
  const open = options.token ? `${server.url}?token=${encodeURIComponent(options.token)}` : server.url;
  options.stderr.write(
    `Kinegraph editor: ${open}${options.queue ? '\nruns go to the queue; start workers with: kinegraph worker --queue <url> --server <this server>' : ''}\n(Ctrl-C to stop)\n`,
  );
  options.stdout.write(`${open}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  options.stderr.write('stopping\u2026\n');
  await server.close();
  return 0;
}
