import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './args.js';

const usageError = (argv: string[]) => {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} parsed`);
};

describe('parseArgs', () => {
  it('collects command, positionals, repeatable value options and booleans', () => {
    const a = parseArgs(['run', 'wf.json', '--set', 'p.text=a b', '--set=s.steps=4', '--json', '--out', 'o']);
    expect(a.command).toBe('run');
    expect(a.positionals).toEqual(['wf.json']);
    expect(a.flags.get('set')).toEqual(['p.text=a b', 's.steps=4']);
    expect(a.flags.get('out')).toEqual(['o']);
    expect(a.booleans.has('json')).toBe(true);
  });

  it('finds the command after options, and takes everything after -- as positionals', () => {
    const a = parseArgs(['--set', 'a.b=1', 'run', '--', '--not-an-option.json']);
    expect(a.command).toBe('run');
    expect(a.positionals).toEqual(['--not-an-option.json']);
    expect(parseArgs(['-h']).booleans.has('help')).toBe(true);
  });

  it('refuses an unknown option, suggesting the one meant', () => {
    expect(usageError(['run', 'wf.json', '--sed', 'a.b=1'])).toBe(
      'Unknown option --sed for kinegraph run. Did you mean --set?',
    );
    expect(usageError(['run', 'wf.json', '--jsn'])).toContain('Did you mean --json?');
    expect(usageError(['nodes', '--port', '3'])).toBe(
      'Unknown option --port for kinegraph nodes. --port is an option of kinegraph serve.',
    );
    expect(usageError(['validate', 'wf.json', '--zzz'])).toContain('Options: --help, --version, --set and --json.');
  });

  it('refuses an unknown command, a value option without a value, and a value given to a boolean', () => {
    expect(usageError(['rnu'])).toContain('Unknown command "rnu". Did you mean "run"?');
    expect(usageError(['run', '--out'])).toContain("'--out <value>' argument missing");
    expect(usageError(['run', '--json=yes'])).toContain("'--json' does not take an argument");
  });

  it('knows --memory for run and serve, --token-file for serve only, and --device for both', () => {
    expect(parseArgs(['run', 'wf.json', '--memory', '2GB']).flags.get('memory')).toEqual(['2GB']);
    const serve = parseArgs(['serve', '--token-file=~/.token', '--memory', '512MiB']);
    expect(serve.flags.get('token-file')).toEqual(['~/.token']);
    expect(serve.flags.get('memory')).toEqual(['512MiB']);
    expect(parseArgs(['serve', '--device', 'webgpu']).flags.get('device')).toEqual(['webgpu']);
    expect(usageError(['serve', '--token-fle', 't'])).toContain('Did you mean --token-file?');
    expect(usageError(['run', 'wf.json', '--token-file', 't'])).toContain(
      '--token-file is an option of kinegraph serve.',
    );
  });

  it('leaves the arguments of `plugin` to its own parser', () => {
    expect(parseArgs(['plugin', 'init', 'x', '--dir', 'y']).command).toBe('plugin');
  });
});
