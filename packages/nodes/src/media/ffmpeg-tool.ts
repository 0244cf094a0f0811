/**
 * Finding and running the system `ffmpeg`/`ffprobe`. Both are optional: only MP4/WebM encoding and
 * decoding of non-PNG/GIF files need them, and their absence is a coded error that says how to install
 * them and what works without.
 */
import { spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { mediaError } from './errors.js';

/** Env var naming the ffmpeg binary (default: `ffmpeg` on PATH). Tests point it at a missing file. */
export const FFMPEG_ENV = 'KINEGRAPH_FFMPEG';
/** Env var naming the ffprobe binary (default: beside KINEGRAPH_FFMPEG, else `ffprobe` on PATH). */
export const FFPROBE_ENV = 'KINEGRAPH_FFPROBE';

/** The ffmpeg binary to run. */
export function ffmpegPath(): string {
  return process.env[FFMPEG_ENV] || 'ffmpeg';
}

/** The ffprobe binary to run: KINEGRAPH_FFPROBE, else the ffprobe beside a configured ffmpeg. */
export function ffprobePath(): string {
  const explicit = process.env[FFPROBE_ENV];
  if (explicit) return explicit;
  const ffmpeg = process.env[FFMPEG_ENV];
  if (ffmpeg && basename(ffmpeg).startsWith('ffmpeg'))
    return join(dirname(ffmpeg), basename(ffmpeg).replace(/^ffmpeg/, 'ffprobe'));
  return 'ffprobe';
}

/** The hint every FFMPEG_MISSING error carries. */
export const INSTALL_FFMPEG_HINT =
  'Install ffmpeg (Debian/Ubuntu: `sudo apt install ffmpeg`, macOS: `brew install ffmpeg`, Windows: `winget install ffmpeg`) ' +
  `or set ${FFMPEG_ENV} to its path. GIF and PNG output and input work without ffmpeg.`;

/** What a finished tool run produced. */
export interface ToolResult {
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Written to stdin in order, respecting back-pressure; stdin is closed afterwards. */
  readonly input?: Iterable<Uint8Array>;
  /** Called with each stdout chunk instead of collecting stdout (for streamed decoding). */
  readonly onStdout?: (chunk: Buffer) => void;
  readonly signal?: AbortSignal;
  /** What the run is for, in error messages ("encoding out.mp4"). */
  readonly purpose: string;
}

/**
 * Runs `bin` with `args` (no shell). Rejects with FFMPEG_MISSING when the binary cannot be started and
 * FFMPEG_FAILED (with the tail of stderr) when it exits non-zero; kills it on abort.
 */
export function runTool(bin: string, args: readonly string[], options: RunToolOptions): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    options.signal?.throwIfAborted();
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    let err = '';
    let settled = false;
    const finish = (error: unknown, result?: ToolResult) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result!);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish(options.signal?.reason ?? new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        finish(
          mediaError(
            'FFMPEG_MISSING',
            `${basename(bin)} is needed for ${options.purpose} but was not found (tried "${bin}").`,
            INSTALL_FFMPEG_HINT,
            undefined,
            error,
          ),
        );
      } else finish(error);
    });
    child.stdout.on('data', (chunk: Buffer) => (options.onStdout ? options.onStdout(chunk) : out.push(chunk)));
    child.stderr.on('data', (chunk: Buffer) => {
      // Keep only the tail: a failing decode can print a line per frame.
      err = (err + chunk.toString('utf8')).slice(-4000);
    });
    // EPIPE when the tool exits before reading all input: the exit code tells the real story.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signalName) => {
      if (code === 0) finish(undefined, { stdout: Buffer.concat(out), stderr: err });
      else {
        const detail = err.trim().split('\n').slice(-3).join(' | ') || `exit ${code ?? signalName}`;
        finish(
          mediaError(
            'FFMPEG_FAILED',
            `${basename(bin)} failed while ${options.purpose}: ${detail}`,
            'Check that the file is a valid video or image; run the same ffmpeg command by hand for details.',
          ),
        );
      }
    });
    void writeInput(child.stdin, options.input);
  });
}

async function writeInput(stdin: NodeJS.WritableStream, input: Iterable<Uint8Array> | undefined): Promise<void> {
  if (input) {
    for (const chunk of input) {
      if (!stdin.write(chunk)) {
        const drained = await new Promise<boolean>((resolve) => {
          const done = (ok: boolean) => () => {
            stdin.off('drain', onDrain);
            stdin.off('close', onClose);
            resolve(ok);
          };
          const onDrain = done(true);
          const onClose = done(false);
          stdin.once('drain', onDrain);
          stdin.once('close', onClose);
        });
        if (!drained) return;
      }
    }
  }
  stdin.end();
}

/**
 * A path as an ffmpeg input/output URL. The `file:` prefix stops ffmpeg from reading a name such as
 * `concat:a|b` or `http:...` as a protocol.
 */
export function fileUrl(path: string): string {
  return `file:${path}`;
}
