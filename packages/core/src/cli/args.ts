import { type ParseArgsConfig, parseArgs as parseNodeArgs } from 'node:util';
import { didYouMean, listOf } from '../util/did-you-mean.js';

/** Parsed command line: the command, positionals, and options (repeatable ones collect into arrays). */
export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  /** Options that take a value, each with every value given, in order. */
  flags: Map<string, string[]>;
  /** Options given that take no value. */
  booleans: Set<string>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const value = { type: 'string' } as const;
const repeatable = { type: 'string', multiple: true } as const;
const flag = { type: 'boolean' } as const;

/** Options every command takes. */
const GLOBAL: Options = { help: { type: 'boolean', short: 'h' }, version: flag };

/**
 * The options of each command: anything else is a usage error. `plugin` parses its own (see
 * plugin-init.ts); `help` takes none.
 */
export const COMMAND_OPTIONS: Readonly<Record<string, Options>> = {
  run: {
    set: repeatable,
    target: repeatable,
    out: value,
    device: value,
    allow: repeatable,
    threads: value,
    timeout: value,
    json: flag,
    previews: flag,
    memory: value,
  },
  validate: { set: repeatable, json: flag },
  nodes: { json: flag },
  plugins: { json: flag },
  serve: { port: value, host: value, token: value, 'token-file': value, memory: value, device: value, queue: value },
  worker: {
    queue: value,
    server: value,
    token: value,
    concurrency: value,
    device: value,
    name: value,
    'work-dir': value,
  },
  help: {},
};

/** Commands whose arguments are passed on unparsed. */
const SELF_PARSING = new Set(['plugin']);

/** A mistake in how the command was called (exit code 1, usage printed). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Parses `kinegraph` arguments with Node's `util.parseArgs` in strict mode, with the options of the
 * command given: `--flag value`, `--flag=value`, booleans, `-h`, and `--` to end options. An unknown
 * option is a {@link UsageError} that suggests the closest known one ("did you mean --set?") and says
 * which command takes it when another one does. For `plugin`, only the command is parsed.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const command = findCommand(argv);
  if (command !== undefined && SELF_PARSING.has(command)) {
    return { command, positionals: [], flags: new Map(), booleans: new Set() };
  }
  const own = command === undefined ? {} : COMMAND_OPTIONS[command];
  if (own === undefined) throw new UsageError(unknownCommandMessage(command!));
  const options = { ...GLOBAL, ...own };
  checkOptionNames(argv, options, command);
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags = new Map<string, string[]>();
  const booleans = new Set<string>();
  for (const [name, given] of Object.entries(parsed.values)) {
    if (given === true) booleans.add(name);
    else if (typeof given === 'string') flags.set(name, [given]);
    else if (Array.isArray(given)) flags.set(name, given.map(String));
  }
  const [, ...positionals] = parsed.positionals;
  return { command, positionals, flags, booleans };
}

/** The first positional argument, skipping the values of options that take one (of any command). */
function findCommand(argv: readonly string[]): string | undefined {
  const everyOption: Options = { ...GLOBAL };
  for (const options of Object.values(COMMAND_OPTIONS)) Object.assign(everyOption, options);
  const { tokens } = parseNodeArgs({
    args: [...argv],
    options: everyOption,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === 'positional');
  return first?.kind === 'positional' ? first.value : undefined;
}

// Found before the strict parse, whose own message cannot suggest anything.
function checkOptionNames(argv: readonly string[], options: Options, command: string | undefined): void {
  const { tokens } = parseNodeArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const where = command ? `kinegraph ${command}` : 'kinegraph';
  const known = Object.keys(options);
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name in options) continue;
    const elsewhere = Object.entries(COMMAND_OPTIONS)
      .filter(([, of]) => token.name in of)
      .map(([name]) => `kinegraph ${name}`);
    const close = didYouMean(token.name, known).map((n) => `--${n}`);
    const parts = [`Unknown option ${token.rawName} for ${where}.`];
    if (close.length) parts.push(`Did you mean ${listOf(close)}?`);
    if (elsewhere.length) parts.push(`${token.rawName} is an option of ${listOf(elsewhere)}.`);
    if (!close.length && !elsewhere.length)
      parts.push(
        `Options: ${listOf(
          known.map((n) => `--${n}`),
          'and',
        )}.`,
      );
    throw new UsageError(parts.join(' '));
  }
}

function unknownCommandMessage(command: string): string {
  const commands = [...Object.keys(COMMAND_OPTIONS), ...SELF_PARSING].filter((c) => c !== 'help');
  const close = didYouMean(command, commands);
  return `Unknown command "${command}".${close.length ? ` Did you mean ${listOf(close.map((c) => `"${c}"`))}?` : ''} Commands: run, validate, nodes, plugins, plugin init, serve, worker.`;
}
