import { describe, expect, it } from 'vitest';
import { applyOverrides, parseOverride } from './overrides.js';

describe('--set overrides', () => {
  it('parses JSON values and plain strings', () => {
    expect(parseOverride('prompt.text=a red circle moving left')).toEqual({
      nodeId: 'prompt',
      param: 'text',
      value: 'a red circle moving left',
    });
    expect(parseOverride('sampler.steps=20')).toEqual({ nodeId: 'sampler', param: 'steps', value: 20 });
    expect(parseOverride('a.b=true')!.value).toBe(true);
    expect(parseOverride('a.b=x=y')!.value).toBe('x=y');
    expect(parseOverride('nodot=1')).toBeUndefined();
    expect(parseOverride('a.b')).toBeUndefined();
  });

  it('applies to a copy and reports unknown nodes with suggestions', () => {
    const doc = { nodes: { prompt: { params: { text: 'old' } } } };
    const { document, issues } = applyOverrides(doc, [
      { nodeId: 'prompt', param: 'text', value: 'new' },
      { nodeId: 'promt', param: 'text', value: 'x' },
    ]);
    expect((document as typeof doc).nodes.prompt.params.text).toBe('new');
    expect(doc.nodes.prompt.params.text).toBe('old');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('SET_TARGET_UNKNOWN');
    expect(issues[0]!.hint).toContain('Did you mean "prompt"');
  });
});
