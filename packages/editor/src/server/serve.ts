/** `kinegraph serve`: starts the server and keeps it up until Ctrl-C. */
import { readFileSync, statSync } from 'node:fs';
import { startServer } from './server.js';

/** Environment variable holding the access token (what `ps` cannot show, unlike `--token`). */
export const TOKEN_ENV = 'KINEGRAPH_TOKEN';
/** Environment variable naming a file whose first line is the access token. */
export const TOKEN_FILE_ENV = 'KINEGRAPH_TOKEN_FILE';

/** What `kinegraph serve` was given. */
export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly token?: string;
  /** `--token-file`: a file whose first line is the token, checked like `KINEGRAPH_TOKEN_FILE`'s. */
  readonly tokenFile?: string;
  /** `--memory`: each run's memory budget, bytes (a submission may ask for less). */
  readonly memoryBudgetBytes?: number;
  /** `--device`: where the runs' models and tensors live. Default cpu. */
  readonly device?: 'cpu' | 'webgpu' | 'auto';
  /** Redis URL of a shared queue (`--queue`): runs go to `kinegraph worker` processes. */
  readonly queue?: string;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where `KINEGRAPH_TOKEN` and `KINEGRAPH_TOKEN_FILE` are read from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The access token, from the first of: `--token`, `--token-file`, `KINEGRAPH_TOKEN`, the file
 * `KINEGRAPH_TOKEN_FILE` names. A token file's first line is the token; a file others may read, one that
 * cannot be read and an empty one are refused (`TOKEN_FILE_INVALID`), as ssh refuses such a key.
 */
export function resolveToken(
  flags: { readonly token?: string | undefined; readonly tokenFile?: string | undefined },
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (flags.token !== undefined && flags.token !== '') return flags.token;
  if (flags.tokenFile) return readTokenFile(flags.tokenFile, '--token-file');
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv) return fromEnv.trim();
  const file = env[TOKEN_FILE_ENV];
  return file ? readTokenFile(file, TOKEN_FILE_ENV) : undefined;
}

/** The first line of a token file that only its owner may read; `source` names where the path came from. */
function readTokenFile(file: string, source: string): string {
  let text: string;
  try {
    const info = statSync(file);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0)
      throw Object.assign(new Error(`The token file ${file} may be read by other users.`), {
        code: 'TOKEN_FILE_INVALID',
        hint: `Restrict it: chmod 600 ${file}`,
      });
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'TOKEN_FILE_INVALID') throw error;
    throw Object.assign(new Error(`The token file ${file} cannot be read: ${(error as Error).message}`), {
      code: 'TOKEN_FILE_INVALID',
      hint: `Point ${source} at a file holding the token.`,
    });
  }
  const token = text.split(/\r?\n/)[0]!.trim();
  if (!token)
    throw Object.assign(new Error(`The token file ${file} is empty.`), {
      code: 'TOKEN_FILE_INVALID',
      hint: 'Write the token on its first line: openssl rand -hex 16 > token && chmod 600 token',
    });
  return token;
}

/**
 * Runs the server until SIGINT/SIGTERM; resolves to the exit code (0 after a clean stop, 1 when it could
 * not start: port taken, non-loopback host without a token).
 */
export async function serve(options: ServeOptions): Promise<number> {
  let server: Awaited<ReturnType<typeof startServer>>;
  let token: string | undefined;
  try {
    token = resolveToken({ token: options.token, tokenFile: options.tokenFile }, options.env ?? process.env);
    server = await startServer({
      cwd: options.cwd,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(options.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
      ...(options.device !== undefined ? { device: options.device } : {}),
      ...(options.queue !== undefined ? { queue: options.queue } : {}),
    });
  } catch (error) {
    const e = error as Error & { code?: string; hint?: string };
    const code = e.code === 'EADDRINUSE' ? 'PORT_IN_USE' : (e.code ?? 'SERVE_FAILED');
    const hint = e.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --port.' : e.hint;
    options.stderr.write(`${code}: ${e.message}${hint ? `\n  hint: ${hint}` : ''}\n`);
    return 1;
  }
  const open = token ? `${server.url}?token=${encodeURIComponent(token)}` : server.url;
  options.stderr.write(
    `Kinegraph editor: ${open}${options.queue ? '\nruns go to the queue; start workers with: kinegraph worker --queue <url> --server <this server>' : ''}\n(Ctrl-C to stop)\n`,
  );
  options.stdout.write(`${open}\n`);
  await untilStopSignal();
  options.stderr.write('stopping\u2026\n');
  await server.close();
  return 0;
}

/**
 * Resolves on the first SIGINT or SIGTERM (Ctrl-C, or a service manager stopping the process), for a
 * long-running command (`serve`, `worker`) to shut down in order. Its handlers go at once, so a second
 * signal is the command's own to handle (or Node's default: quit).
 */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
