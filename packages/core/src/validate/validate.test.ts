import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../registry/registry.js';
import { testPlugin } from '../test-support/plugin.js';
import { VALIDATION_CODES, type ValidationIssue } from '../workflow/issue.js';
import { validateWorkflow } from './validate.js';

const registry = new NodeRegistry();
registry.register(await testPlugin());

const good = {
  format: 'kinegraph/workflow@1',
  nodes: {
    prompt: { type: 'test/text', version: 1, params: { text: 'hi' } },
    shout: {
      type: 'test/upper',
      version: 2,
      params: { times: 2 },
      inputs: { text: { node: 'prompt', output: 'text' } },
    },
  },
};

function issues(doc: unknown): ValidationIssue[] {
  const result = validateWorkflow(doc, registry);
  return result.ok ? [] : result.issues;
}

function codes(doc: unknown): string[] {
  return issues(doc).map((i) => i.code);
}

describe('validateWorkflow', () => {
  it('accepts a good workflow, fills defaults and orders dependencies first', () => {
    const result = validateWorkflow(good, registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.order).toEqual(['prompt', 'shout']);
    expect(result.prepared.nodes.get('shout')!.params).toEqual({ times: 2, mode: 'upper' });
    // The caller's document is untouched.
    expect(good.nodes.shout.params).toEqual({ times: 2 });
  });

  it('rejects non-objects and wrong formats', () => {
    expect(codes(null)).toEqual(['WORKFLOW_NOT_OBJECT']);
    expect(codes([])).toEqual(['WORKFLOW_NOT_OBJECT']);
    expect(codes({ ...good, format: 'comfy' })).toContain('FORMAT_UNSUPPORTED');
    expect(codes({ nodes: {} })).toContain('FORMAT_UNSUPPORTED');
  });

  it('names the unexpected key, at the top level and in a node', () => {
    const top = issues({ ...good, colour: 'red' });
    expect(top.map((i) => [i.code, i.pointer])).toEqual([['WORKFLOW_SCHEMA', '']]);
    expect(top[0]!.message).toMatch(/ "colour"\.$/);
    const inNode = issues({ ...good, nodes: { ...good.nodes, prompt: { ...good.nodes.prompt, colour: 'red' } } });
    // (A node that fails its shape is left out, so what reads it reports a missing input too.)
    expect(inNode.map((i) => [i.code, i.nodeId])).toEqual([
      ['WORKFLOW_SCHEMA', 'prompt'],
      ['INPUT_NODE_MISSING', 'shout'],
    ]);
    expect(inNode[0]!.message).toMatch(/^Node "prompt" .* "colour"\.$/);
  });

  it('reports unknown node types with did-you-mean and the providing package', () => {
    const found = issues({
      format: 'kinegraph/workflow@1',
      metadata: { nodeTypes: { 'acme/grade': { package: '@acme/kinegraph-grade', version: '2.1.0' } } },
      nodes: { a: { type: 'test/uper', version: 1 }, b: { type: 'acme/grade', version: 1 } },
    });
    expect(found.map((i) => [i.code, i.nodeId])).toEqual([
      ['NODE_TYPE_UNKNOWN', 'a'],
      ['NODE_TYPE_UNKNOWN', 'b'],
    ]);
    expect(found[0]!.hint).toContain('"test/upper"');
    expect(found[0]!.pointer).toBe('/nodes/a/type');
    expect(found[1]!.hint).toContain('npm install @acme/kinegraph-grade');
  });

  it('lists every param problem at once, with valid values', () => {
    const found = issues({
      format: 'kinegraph/workflow@1',
      nodes: {
        prompt: { type: 'test/text', version: 1, params: { text: 5, txet: 'x' } },
        shout: {
          type: 'test/upper',
          version: 2,
          params: { times: 99, mode: 'loud' },
          inputs: { text: { node: 'prompt', output: 'text' } },
        },
      },
    });
    const byPointer = Object.fromEntries(found.map((i) => [i.pointer, i]));
    expect(byPointer['/nodes/prompt/params/text']?.code).toBe('PARAM_INVALID');
    expect(byPointer['/nodes/prompt/params/txet']?.code).toBe('PARAM_UNKNOWN');
    expect(byPointer['/nodes/prompt/params/txet']?.hint).toContain('Did you mean "text"');
    expect(byPointer['/nodes/shout/params/times']?.hint).toContain('from 1 to 10');
    expect(byPointer['/nodes/shout/params/mode']?.hint).toContain('"upper" or "lower"');
    expect(found.every((i) => i.nodeId && i.hint)).toBe(true);
  });

  it('reports missing params that have no default', () => {
    const reg = new NodeRegistry();
    reg.register({
      name: 'p',
      nodes: [
        {
          ...registry.get('test/text')!.definition,
          type: 'p/needs',
          params: { type: 'object', properties: { seed: { type: 'integer' } }, required: ['seed'] } as never,
        },
      ],
    });
    const result = validateWorkflow(
      { format: 'kinegraph/workflow@1', nodes: { n: { type: 'p/needs', version: 1 } } },
      reg,
    );
    expect(result.ok ? [] : result.issues.map((i) => [i.code, i.pointer])).toEqual([
      ['PARAM_MISSING', '/nodes/n/params/seed'],
    ]);
  });

  it('reports input problems: missing, unknown port, missing node, unknown output, type mismatch', () => {
    const found = issues({
      format: 'kinegraph/workflow@1',
      nodes: {
        prompt: { type: 'test/text', version: 1 },
        a: { type: 'test/upper', version: 2 },
        b: {
          type: 'test/upper',
          version: 2,
          inputs: { text: { node: 'prompt', output: 'text' }, txt: { node: 'prompt', output: 'text' } },
        },
        c: { type: 'test/upper', version: 2, inputs: { text: { node: 'promt', output: 'text' } } },
        d: { type: 'test/upper', version: 2, inputs: { text: { node: 'prompt', output: 'image' } } },
        e: { type: 'test/video-sink', version: 1, inputs: { video: { node: 'prompt', output: 'text' } } },
      },
    });
    const got = found.map((i) => `${i.code}@${i.nodeId}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'INPUT_MISSING@a',
        'INPUT_UNKNOWN@b',
        'INPUT_NODE_MISSING@c',
        'OUTPUT_UNKNOWN@d',
        'PORT_TYPE_MISMATCH@e',
      ]),
    );
    expect(found.find((i) => i.code === 'INPUT_MISSING')!.hint).toContain('prompt.text');
    expect(found.find((i) => i.code === 'INPUT_UNKNOWN')!.hint).toContain('Did you mean "text"');
    expect(found.find((i) => i.code === 'INPUT_NODE_MISSING')!.hint).toContain('Did you mean "prompt"');
    expect(found.find((i) => i.code === 'OUTPUT_UNKNOWN')!.hint).toContain('text');
    expect(found.find((i) => i.code === 'PORT_TYPE_MISMATCH')!.message).toContain('takes video');
  });

  it('names a node an edge reads from that is not in the workflow, even when it is named like a JS built-in', () => {
    // "constructor" is a key of every object's prototype: it must not pass for a node of the document.
    for (const missing of ['constructor', 'toString', 'hasOwnProperty']) {
      const found = issues({
        format: 'kinegraph/workflow@1',
        nodes: { a: { type: 'test/upper', version: 2, inputs: { text: { node: missing, output: 'text' } } } },
      });
      expect(found.map((i) => `${i.code}@${i.pointer}`)).toEqual(['INPUT_NODE_MISSING@/nodes/a/inputs/text/node']);
    }
  });

  it('finds cycles and names the nodes on them', () => {
    const found = issues({
      format: 'kinegraph/workflow@1',
      nodes: {
        a: { type: 'test/upper', version: 2, inputs: { text: { node: 'c', output: 'text' } } },
        b: { type: 'test/upper', version: 2, inputs: { text: { node: 'a', output: 'text' } } },
        c: { type: 'test/upper', version: 2, inputs: { text: { node: 'b', output: 'text' } } },
        self: { type: 'test/join', version: 1, inputs: { a: { node: 'self', output: 'text' } } },
      },
    });
    const cycles = found.filter((i) => i.code === 'CYCLE');
    expect(cycles).toHaveLength(2);
    expect(cycles.map((c) => c.message).join('\n')).toMatch(/a → b → c → a|b → c → a → b|c → a → b → c/);
    expect(cycles.some((c) => c.nodeId === 'self')).toBe(true);
  });

  it('reports versions newer than installed, and migrates older ones then re-validates', () => {
    expect(codes({ format: 'kinegraph/workflow@1', nodes: { p: { type: 'test/text', version: 3 } } })).toEqual([
      'NODE_VERSION_NEWER',
    ]);
    const old = {
      format: 'kinegraph/workflow@1',
      nodes: {
        p: { type: 'test/text', version: 1 },
        u: { type: 'test/upper', version: 1, params: { repeat: 3 }, inputs: { text: { node: 'p', output: 'text' } } },
      },
    };
    const result = validateWorkflow(old, registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.migrated).toEqual([{ nodeId: 'u', from: 1, to: 2 }]);
    expect(result.prepared.workflow.nodes.u!.version).toBe(2);
    expect(result.prepared.nodes.get('u')!.params).toEqual({ times: 3, mode: 'upper' });
    // A migration whose result is invalid is reported as a param problem of the migrated node.
    expect(codes({ ...old, nodes: { ...old.nodes, u: { ...old.nodes.u, params: { repeat: 50 } } } })).toEqual([
      'PARAM_INVALID',
    ]);
  });

  it('reports structural problems per node without hiding the others', () => {
    const found = issues({
      format: 'kinegraph/workflow@1',
      extra: true,
      nodes: {
        'bad id!': { type: 'test/text', version: 1 },
        x: { type: 'test/text' },
        y: { type: 'test/text', version: 1, params: { text: 1 } },
      },
    });
    expect(found.map((i) => i.code).sort()).toEqual(
      ['NODE_ID_INVALID', 'PARAM_INVALID', 'WORKFLOW_SCHEMA', 'WORKFLOW_SCHEMA'].sort(),
    );
  });

  it('every issue carries a known code, a pointer and a hint', () => {
    const all = issues({
      format: 'kinegraph/workflow@1',
      nodes: { a: { type: 'nope/x', version: 1 }, b: { type: 'test/upper', version: 2 } },
    });
    for (const issue of all) {
      expect(VALIDATION_CODES).toContain(issue.code);
      expect(issue.pointer.startsWith('/')).toBe(true);
      expect(issue.hint.length).toBeGreaterThan(5);
    }
  });

  it('keeps messages short for huge values', () => {
    const huge = 'x'.repeat(10_000_000);
    const found = issues({ format: 'kinegraph/workflow@1', nodes: { a: { type: huge, version: 1 } } });
    expect(found[0]!.message.length).toBeLessThan(300);
  });
});
