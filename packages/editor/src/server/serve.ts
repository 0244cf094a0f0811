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
  /** `--device`: where the runs' models and tensors live. Default cpu. */
  readonly device?: 'cpu' | 'webgpu' | 'auto';
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where `KINEGRAPH_TOKEN` and `KINEGRAPH_TOKEN_FILE` are read from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The access token: `--token`, else `KINEGRAPH_TOKEN`, else the first line of the file `KINEGRAPH_TOKEN_FILE`
 * names. A token file others may read is refused (`TOKEN_FILE_INVALID`), as ssh refuses such a key.
 */
export function resolveToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv) return fromEnv.trim();
  const file = env[TOKEN_FILE_ENV];
  if (!file) return undefined;
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
      hint: `Point ${TOKEN_FILE_ENV} at a file holding the token.`,
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
    token = resolveToken(options.token, options.env ?? process.env);
    server = await startServer({
      cwd: options.cwd,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(options.device !== undefined ? { device: options.device } : {}),
    });
  } catch (error) {
    const e = error as Error & { code?: string; hint?: string };
    const code = e.code === 'EADDRINUSE' ? 'PORT_IN_USE' : (e.code ?? 'SERVE_FAILED');
    const hint = e.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --port.' : e.hint;
    options.stderr.write(`${code}: ${e.message}${hint ? `\n  hint: ${hint}` : ''}\n`);
    return 1;
  }
  const open = token ? `${server.url}?token=${encodeURIComponent(token)}` : server.url;
  options.stderr.write(`Kinegraph editor: ${open}\n(Ctrl-C to stop)\n`);
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
