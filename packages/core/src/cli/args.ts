/** Parsed command line: the command, positionals, and flags (repeatable flags collect into arrays). */
export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  flags: Map<string, string[]>;
  booleans: Set<string>;
}

/** Flags that take a value; every other `--flag` is a boolean. */
const VALUE_FLAGS = new Set([
  'set',
  'out',
  'device',
  'allow',
  'threads',
  'port',
  'host',
  'token',
  'timeout',
  'queue',
  'server',
  'concurrency',
  'name',
  'work-dir',
]);

/** A small, dependency-free argv parser: `--flag value`, `--flag=value`, `--bool`, `--` ends flags. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, string[]>();
  const booleans = new Set<string>();
  const positionals: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      if (VALUE_FLAGS.has(name)) {
        const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value.`);
        flags.set(name, [...(flags.get(name) ?? []), value]);
      } else booleans.add(name);
      continue;
    }
    if (arg === '-h') booleans.add('help');
    else if (command === undefined) command = arg;
    else positionals.push(arg);
  }
  return { command, positionals, flags, booleans };
}

/** A mistake in how the command was called (exit code 1, usage printed). */
export class UsageError extends Error {
  override name = 'UsageError';
}
