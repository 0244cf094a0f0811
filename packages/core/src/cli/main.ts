import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import { defaultAllowedFolders } from '../host/allowed-folders.js';
import { describeIsolation } from '../plugins/describe-isolation.js';
import { grantsFilePath } from '../plugins/grants.js';
import { describeNodes } from '../registry/describe.js';
import { Runtime } from '../runtime.js';
import type { RunEvent } from '../scheduler/events.js';
import { isTerminalEvent } from '../scheduler/events.js';
import type { DeviceRequest } from '../tensor/types.js';
import { KinegraphError, serializeError } from '../util/errors.js';
import { formatIssue } from '../workflow/issue.js';
import { type ParamOverride, parseOverride } from '../workflow/overrides.js';
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { OutputWatch } from './output-watch.js';
import { pluginCommand } from './plugin-init.js';
import { createProgressRenderer, formatMs } from './progress.js';
import { parseSize } from './sizes.js';

/**
 * Exit codes of `kinegraph`: documented in the README and stable. `outputClosed` is what a program ended by
 * SIGPIPE reports (128 + 13): the reader of its output went away (`| head`), so the run was cancelled.
 */
export const EXIT = { ok: 0, invalid: 1, runtimeError: 2, cancelled: 130, outputClosed: 141 } as const;

/** The streams and folder the CLI works with (the process's own, or a test's). */
interface Io {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly cwd: string;
}

/** What a command is run with: its arguments, where it writes, and whether that output still has a reader. */
interface CommandEnv extends Io {
  readonly output: OutputWatch;
}

const USAGE = `Usage: kinegraph <command> [options]

Commands:
  run <workflow.json>       Validate and run a workflow
      --set <node>.<param>=<value>   Override a param (repeatable; value is JSON or a plain string)
      --out <dir>                    Output folder (default: outputs)
      --device cpu|webgpu|auto       Device for models and tensors (default: cpu)
      --allow <dir>                  Another folder file-reading nodes may read (repeatable)
      --threads <n>                  ONNX Runtime threads
      --timeout <seconds>            Fail a node that runs longer than this (NODE_TIMEOUT)
      --memory <size>                The run's memory budget: 2GB, 512MiB, bytes (default: half
                                     of what the process may use)
      --json                         Print events as NDJSON
      --previews                     With --json: include the samplers' previews (GIF/PNG data) in
                                     the events; without it no previews are made (they cost CPU)
  validate <workflow.json>  List every problem in a workflow [--json] [--set ...]
  nodes                     List node types with their JSON Schemas [--json]
  plugins                   List plugins: what loaded, from where, how isolated, with which grants,
                            and what did not load [--json]
  plugin init <name>        Create a plugin package with one working node and its test
      --dir <folder>                 Where to create it (default: plugins)
  serve                     Start the browser editor (needs @kinegraph/editor)
      --port <n>                     Port (default: 8188)
      --host <addr>                  Address (default: 127.0.0.1; another needs --token)
      --token-file <path>            Require the token on the first line of this file (others may
                                     not read it); also KINEGRAPH_TOKEN, KINEGRAPH_TOKEN_FILE
      --token <secret>               Require this token on every request (ps shows it: prefer a file)
      --memory <size>                Each run's memory budget (a run may ask for less)
      --device cpu|webgpu|auto       Device for the runs' models and tensors (default: cpu)
      --queue redis://host:port      Queue runs in Redis for \`kinegraph worker\` processes
  worker                    Take runs from a queue and execute them (needs @kinegraph/editor)
      --queue redis://host:port      The queue (as given to serve --queue)
      --server http://host:port      The server: inputs come from it, outputs go to it
      --token <secret>               The server's token (or KINEGRAPH_TOKEN)
      --concurrency <n>              Runs at once (default: 1)
      --device cpu|webgpu|auto       Device for models and tensors (default: cpu)
      --name <name>                  Shown in job listings (default: host:pid)
      --work-dir <dir>               Input cache and scratch (default: in the temp folder)

Exit codes: 0 ok, 1 invalid workflow or usage, 2 runtime error, 130 cancelled (Ctrl-C; a second
Ctrl-C stops at once), 141 output closed (the reader of a pipe went away; the run is cancelled).`;

/**
 * Runs the CLI; resolves to the process exit code (see {@link EXIT}). Never throws. Whatever it started
 * (the inference worker) is stopped before it resolves, so the caller may exit the process at once.
 */
export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() },
): Promise<number> {
  const output = new OutputWatch([io.stdout, io.stderr]);
  try {
    const code = await runCommandLine(argv, { ...io, output });
    return output.closed ? EXIT.outputClosed : code;
  } finally {
    output.dispose();
  }
}

async function runCommandLine(argv: readonly string[], io: CommandEnv): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT.invalid;
  }
  if (args.booleans.has('version')) {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  if (!args.command || args.booleans.has('help') || args.command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return args.command || args.booleans.has('help') ? EXIT.ok : EXIT.invalid;
  }
  try {
    switch (args.command) {
      case 'run':
        return await runCommand(args, io);
      case 'validate':
        return await validateCommand(args, io);
      case 'nodes':
        return await nodesCommand(args, io);
      case 'plugins':
        return await pluginsCommand(args, io);
      case 'plugin': {
        // `plugin` parses its own arguments (its --dir takes a value the shared parser does not know).
        const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
          version: string;
        };
        return await pluginCommand(argv.slice(argv.indexOf('plugin') + 1), io, pkg.version);
      }
      case 'serve':
        return await serveCommand(args, io);
      case 'worker':
        return await workerCommand(args, io);
      default:
        throw new UsageError(`Unknown command "${args.command}".`); // parseArgs refuses these already
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return EXIT.invalid;
    }
    const e = serializeError(error);
    if (args.booleans.has('json')) io.stdout.write(`${JSON.stringify({ type: 'error', error: e })}\n`);
    else io.stderr.write(`${e.code}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
    return e.code === 'WORKFLOW_FILE_INVALID' ? EXIT.invalid : EXIT.runtimeError;
  }
}

async function loadRuntime(args: ParsedArgs, io: { cwd: string; stderr: NodeJS.WriteStream }): Promise<Runtime> {
  const device = (args.flags.get('device')?.at(-1) ?? 'cpu') as DeviceRequest;
  if (!['cpu', 'webgpu', 'auto'].includes(device))
    throw new UsageError(`--device must be cpu, webgpu or auto (got "${device}").`);
  const threads = args.flags.get('threads')?.at(-1);
  if (threads !== undefined && !(Number.isInteger(Number(threads)) && Number(threads) >= 1))
    throw new UsageError(`--threads takes a whole number \u2265 1 (got "${threads}").`);
  const timeout = args.flags.get('timeout')?.at(-1);
  if (timeout !== undefined && !(Number(timeout) > 0))
    throw new UsageError(`--timeout takes seconds > 0 (got "${timeout}").`);
  const memory = memoryBudget(args);
  const runtime = await Runtime.create({
    device,
    // `run` needs the inference worker: it starts (loading ONNX Runtime) while plugins are discovered.
    startWorker: args.command === 'run',
    ...(threads ? { threads: Number(threads) } : {}),
    ...(timeout ? { nodeTimeoutMs: Number(timeout) * 1000 } : {}),
    ...(memory !== undefined ? { memoryBudgetBytes: memory } : {}),
    discover: { cwd: io.cwd },
    catchStrayErrors: true,
  });
  for (const failed of runtime.discovery.failed) {
    if (args.command !== 'plugins')
      io.stderr.write(`warning: plugin ${failed.package} was skipped: ${failed.error.message}\n`);
  }
  return runtime;
}

/** `--memory <size>` in bytes, if given. */
function memoryBudget(args: ParsedArgs): number | undefined {
  const text = args.flags.get('memory')?.at(-1);
  return text === undefined ? undefined : parseSize(text, '--memory');
}

async function readWorkflow(args: ParsedArgs, cwd: string): Promise<{ path: string; document: unknown }> {
  const file = args.positionals[0];
  if (!file) throw new UsageError(`${args.command} needs a workflow file: kinegraph ${args.command} <workflow.json>`);
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new KinegraphError(
      'WORKFLOW_FILE_INVALID',
      `Cannot read workflow file ${path}: ${(error as Error).message}`,
      {
        hint: 'Check the path.',
        cause: error,
      },
    );
  }
  try {
    return { path, document: JSON.parse(text) as unknown };
  } catch (error) {
    throw new KinegraphError('WORKFLOW_FILE_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, {
      hint: 'Workflows are JSON documents; check for a trailing comma or a missing quote.',
      cause: error,
    });
  }
}

function readOverrides(args: ParsedArgs): ParamOverride[] {
  return (args.flags.get('set') ?? []).map((text) => {
    const parsed = parseOverride(text);
    if (!parsed)
      throw new UsageError(
        `--set takes <node>.<param>=<value>, e.g. --set prompt.text="a red circle" (got "${text}").`,
      );
    return parsed;
  });
}

async function validateCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const { document } = await readWorkflow(args, io.cwd);
  const runtime = await loadRuntime(args, io);
  const result = runtime.validate(document, readOverrides(args));
  if (args.booleans.has('json'))
    io.stdout.write(
      `${JSON.stringify({ ok: result.ok, issues: result.issues, ...(result.ok ? { migrated: result.prepared.migrated } : {}) }, null, 2)}\n`,
    );
  else if (result.ok)
    io.stdout.write(
      `valid: ${result.prepared.order.length} nodes${result.prepared.migrated.length ? `, ${result.prepared.migrated.length} migrated` : ''}\n`,
    );
  else {
    io.stderr.write(`invalid: ${result.issues.length} problem${result.issues.length === 1 ? '' : 's'}\n`);
    for (const issue of result.issues) io.stderr.write(`  ${formatIssue(issue)}\n`);
  }
  return result.ok ? EXIT.ok : EXIT.invalid;
}

async function runCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const { path, document } = await readWorkflow(args, io.cwd);
  const overrides = readOverrides(args);
  const cancel = new AbortController();
  const stopInterrupts = cancelOnInterrupt(io, cancel);
  // Nobody reads what the run would print: stop it, as a program ended by SIGPIPE would stop.
  const stopWatching = io.output.onClose(() => cancel.abort(new DOMException('The output was closed.', 'AbortError')));
  try {
    const runtime = await loadRuntime(args, io);
    try {
      if (cancel.signal.aborted) return EXIT.cancelled;
      return await runWorkflow(runtime, { args, io, path, document, overrides, signal: cancel.signal });
    } finally {
      // Awaited before the process may exit: exiting while the inference worker is inside ONNX Runtime
      // aborts the process (see ManagedTensorStore.close).
      await runtime.close();
    }
  } finally {
    stopWatching();
    stopInterrupts();
  }
}

/**
 * Ctrl-C cancels the run cleanly: the nodes stop, the inference worker stops once ONNX Runtime returns,
 * and `kinegraph` exits with 130. A second Ctrl-C stops at once: the handler steps aside and the process
 * ends by SIGINT itself (status 130 in a shell), waiting for nothing. Ending by a signal runs no exit-time
 * code, which is what makes it safe while the worker is inside ONNX Runtime; a node's unfinished output
 * is then left as a hidden `.partial` file, never under its final name.
 */
function cancelOnInterrupt(io: CommandEnv, cancel: AbortController): () => void {
  const onSigint = () => {
    if (cancel.signal.aborted) {
      process.removeAllListeners('SIGINT');
      process.kill(process.pid, 'SIGINT');
      return;
    }
    io.stderr.write('\ncancelling\u2026 (Ctrl-C again to stop at once)\n');
    cancel.abort(new DOMException('Cancelled by the user.', 'AbortError'));
  };
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}

/** Validates and runs the workflow, printing progress (or NDJSON events); resolves to the exit code. */
async function runWorkflow(
  runtime: Runtime,
  run: {
    args: ParsedArgs;
    io: CommandEnv;
    path: string;
    document: unknown;
    overrides: readonly ParamOverride[];
    signal: AbortSignal;
  },
): Promise<number> {
  const { args, io } = run;
  const json = args.booleans.has('json');
  const validation = runtime.validate(run.document, run.overrides);
  if (!validation.ok) {
    if (json) io.stdout.write(`${JSON.stringify({ type: 'validation:error', issues: validation.issues })}\n`);
    else {
      io.stderr.write(
        `invalid workflow: ${validation.issues.length} problem${validation.issues.length === 1 ? '' : 's'}\n`,
      );
      for (const issue of validation.issues) io.stderr.write(`  ${formatIssue(issue)}\n`);
    }
    return EXIT.invalid;
  }
  // The device (starting the store if it has not started): where the run happens and why, with the WebGPU
  // adapter. It goes into the saved outputs' embedded workflow (Runtime.run) and, with --json, into a
  // `device` event right after run:start.
  await runtime.store();
  const device = runtime.deviceReport();
  if (device !== undefined && !json && (device.device !== 'cpu' || device.reason !== 'cpu was requested'))
    io.stderr.write(`device: ${device.device} (${device.reason})\n`);
  // A node may wait on nothing but its abort signal; without a live handle Node would see an idle loop
  // and quit mid-run (exit 13, unsettled top-level await).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const renderer = json ? undefined : createProgressRenderer(io.stderr, io.stderr.isTTY === true);
  const outputFolder = resolve(io.cwd, args.flags.get('out')?.at(-1) ?? 'outputs');
  // A holder, not a `let`: TS cannot see assignments made inside the tap callback.
  const outcome: { last?: Extract<RunEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }> } = {};
  try {
    await lastValueFrom(
      runtime
        .run(validation.prepared, {
          signal: run.signal,
          outputFolder,
          allowedFolders: defaultAllowedFolders(run.path, args.flags.get('allow') ?? [], io.cwd),
          // A terminal shows no pictures: previews are made only for a --json reader who asked for them.
          previews: json && args.booleans.has('previews'),
        })
        .pipe(
          tap((event) => {
            if (json) {
              io.stdout.write(`${JSON.stringify(event, jsonReplacer)}\n`);
              if (event.type === 'run:start' && device !== undefined)
                io.stdout.write(`${JSON.stringify({ type: 'device', runId: event.runId, ...device })}\n`);
            } else renderer!.handle(event);
            if (isTerminalEvent(event)) outcome.last = event;
          }),
        ),
      { defaultValue: undefined },
    );
  } finally {
    renderer?.finish();
    clearInterval(keepAlive);
  }
  const last = outcome.last;
  if (!last) return EXIT.runtimeError;
  if (last.type === 'run:done') {
    if (!json) {
      io.stderr.write(`done in ${formatMs(last.ms)} (${last.executed.length} ran, ${last.cached.length} cached)\n`);
      for (const file of last.files) io.stdout.write(`${file}\n`);
    }
    return EXIT.ok;
  }
  if (last.type === 'run:cancelled') {
    if (!json) io.stderr.write('cancelled\n');
    return EXIT.cancelled;
  }
  if (!json)
    io.stderr.write(
      `failed${last.nodeId ? ` at node "${last.nodeId}"` : ''}: ${last.error.code}: ${last.error.message}${last.error.hint ? `\n  hint: ${last.error.hint}` : ''}\n`,
    );
  return EXIT.runtimeError;
}

async function nodesCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const runtime = await loadRuntime(args, io);
  const described = describeNodes(runtime.registry);
  if (args.booleans.has('json')) io.stdout.write(`${JSON.stringify(described, null, 2)}\n`);
  else {
    if (!described.nodes.length)
      io.stdout.write(
        'No node types installed. Plugins are found in plugins/ and in node_modules packages with a "kinegraph" key.\n',
      );
    for (const node of described.nodes) {
      const ins = Object.entries(node.inputs)
        .map(([n, p]) => `${n}:${p.type}${p.optional ? '?' : ''}`)
        .join(', ');
      const outs = Object.entries(node.outputs)
        .map(([n, p]) => `${n}:${p.type}`)
        .join(', ');
      io.stdout.write(
        `${node.type} v${node.version}  ${node.title}  (${node.category}, ${node.package})\n    in: ${ins || '-'}  out: ${outs || '-'}\n`,
      );
    }
  }
  return EXIT.ok;
}

async function pluginsCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const runtime = await loadRuntime(args, io);
  const { loaded, failed } = runtime.discovery;
  if (args.booleans.has('json')) io.stdout.write(`${JSON.stringify({ loaded, failed }, null, 2)}\n`);
  else {
    io.stdout.write(`Loaded (${loaded.length}):\n`);
    for (const p of loaded) {
      io.stdout.write(
        `  ${p.name}${p.source.version ? `@${p.source.version}` : ''}  ${p.nodeTypes.length} node types  from ${p.source.path ?? '(code)'}\n`,
      );
      for (const line of describeIsolation(p.isolation)) io.stdout.write(`    ${line}\n`);
    }
    io.stdout.write(`Skipped (${failed.length}):\n`);
    for (const f of failed)
      io.stdout.write(
        `  ${f.package}  ${f.error.code}: ${f.error.message}\n    hint: ${f.error.hint ?? '-'}\n    at ${f.path}\n`,
      );
    const grants = grantsFilePath(io.cwd);
    io.stdout.write(
      existsSync(grants)
        ? `Grants: ${grants}\n`
        : `Grants: none (${grants} does not exist; every plugin has the default grants, docs/plugins.md "Isolation")\n`,
    );
  }
  return EXIT.ok;
}

/** The editor's entry points, as far as core knows them (core must not depend on the editor at build time). */
interface EditorModule {
  serve(options: {
    port?: number;
    host?: string;
    token?: string;
    tokenFile?: string;
    memoryBudgetBytes?: number;
    device?: DeviceRequest;
    queue?: string;
    cwd: string;
    stdout: NodeJS.WritableStream;
    stderr: NodeJS.WritableStream;
  }): Promise<number>;
  worker(options: {
    queue: string;
    server: string;
    token?: string;
    concurrency?: number;
    device?: DeviceRequest;
    name?: string;
    workDir?: string;
    cwd: string;
    stdout: NodeJS.WritableStream;
    stderr: NodeJS.WritableStream;
  }): Promise<number>;
}

async function loadEditor(): Promise<EditorModule> {
  // A variable specifier keeps bundlers and tsc from resolving the optional package at build time.
  const specifier = '@kinegraph/editor';
  try {
    return (await import(specifier)) as EditorModule;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') ||
      !String((error as Error).message).includes(specifier)
    )
      throw error;
    throw new KinegraphError('EDITOR_NOT_INSTALLED', 'The editor is not installed.', {
      hint: 'Install it next to @kinegraph/core: npm install @kinegraph/editor',
      cause: error,
    });
  }
}

async function serveCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const portText = args.flags.get('port')?.at(-1);
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new UsageError(`--port takes a port number 0-65535 (got "${portText}").`);
  const host = args.flags.get('host')?.at(-1);
  // The editor resolves KINEGRAPH_TOKEN and KINEGRAPH_TOKEN_FILE when neither flag is given.
  const token = args.flags.get('token')?.at(-1);
  const tokenFile = args.flags.get('token-file')?.at(-1);
  if (token !== undefined && tokenFile !== undefined)
    throw new UsageError('Give the token once: --token or --token-file, not both.');
  if (tokenFile === '') throw new UsageError('--token-file takes the path of a file holding the token.');
  const memory = memoryBudget(args);
  const queue = args.flags.get('queue')?.at(-1);
  const device = args.flags.get('device')?.at(-1) as DeviceRequest | undefined;
  if (device !== undefined && !['cpu', 'webgpu', 'auto'].includes(device))
    throw new UsageError(`--device must be cpu, webgpu or auto (got "${device}").`);
  const editor = await loadEditor();
  return editor.serve({
    ...(port !== undefined ? { port } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(tokenFile !== undefined ? { tokenFile: resolve(io.cwd, tokenFile) } : {}),
    ...(memory !== undefined ? { memoryBudgetBytes: memory } : {}),
    ...(device !== undefined ? { device } : {}),
    ...(queue !== undefined ? { queue } : {}),
    cwd: io.cwd,
    stdout: io.stdout,
    stderr: io.stderr,
  });
}

async function workerCommand(args: ParsedArgs, io: CommandEnv): Promise<number> {
  const queue = args.flags.get('queue')?.at(-1);
  const server = args.flags.get('server')?.at(-1);
  if (!queue || !server) throw new UsageError('worker needs --queue redis://host:port and --server http://host:port.');
  const concurrencyText = args.flags.get('concurrency')?.at(-1);
  const concurrency = concurrencyText === undefined ? undefined : Number(concurrencyText);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64))
    throw new UsageError(`--concurrency takes a whole number 1-64 (got "${concurrencyText}").`);
  const device = args.flags.get('device')?.at(-1) as DeviceRequest | undefined;
  if (device !== undefined && !['cpu', 'webgpu', 'auto'].includes(device))
    throw new UsageError(`--device must be cpu, webgpu or auto (got "${device}").`);
  const token = args.flags.get('token')?.at(-1);
  const name = args.flags.get('name')?.at(-1);
  const workDir = args.flags.get('work-dir')?.at(-1);
  const editor = await loadEditor();
  return editor.worker({
    queue,
    server,
    ...(token !== undefined ? { token } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(device !== undefined ? { device } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(workDir !== undefined ? { workDir: resolve(io.cwd, workDir) } : {}),
    cwd: io.cwd,
    stdout: io.stdout,
    stderr: io.stderr,
  });
}

// Preview bytes become base64 in NDJSON.
function jsonReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}
