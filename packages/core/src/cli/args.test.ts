import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';

describe('parseArgs', () => {
  it('collects command, positionals, repeatable value flags and booleans', () => {
    const a = parseArgs(['run', 'wf.json', '--set', 'p.text=a b', '--set=s.steps=4', '--json', '--out', 'o']);
    expect(a.command).toBe('run');
    expect(a.positionals).toEqual(['wf.json']);
    expect(a.flags.get('set')).toEqual(['p.text=a b', 's.steps=4']);
    expect(a.flags.get('out')).toEqual(['o']);
    expect(a.booleans.has('json')).toBe(true);
  });

  it('fails on a value flag without a value', () => {
    expect(() => parseArgs(['run', '--out'])).toThrow('--out needs a value');
  });
});
