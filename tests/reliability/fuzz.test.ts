// Property-based fuzz over workflow documents: random mutations of the shipped workflows. Every case must
// end in success or a list of coded validation issues: no crash, no hang, no stack trace for the user.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssue, Runtime, VALIDATION_CODES } from '@kinegraph/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workflows = readdirSync(join(root, 'workflows'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(root, 'workflows', f), 'utf8')) as Record<string, unknown>);
const runtime = await Runtime.create({ discover: { cwd: root } });

type Json = unknown;
const nasty = fc.oneof(
  fc.constant(null),
  fc.constant(Number.MAX_VALUE),
  fc.constant(-1e308),
  fc.constant(1e21),
  fc.constant(-0),
  fc.integer(),
  fc.double({ noNaN: false }).map((d) => (Number.isFinite(d) ? d : null)), // NaN/Infinity become null in JSON
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constant('\u0000\u202e\ud83d\ude00'),
  fc.constant('__proto__'),
  fc.constant('x'.repeat(10 * 1024 * 1024)),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.constant({ node: 'pack', output: 'model' }),
  fc.constant({ node: 'sampler', output: 'video' }),
);

function deep(depth: number): Json {
  let value: Json = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** Applies one mutation at a random place; returns a new document. */
function mutate(doc: Record<string, unknown>, pick: number, value: Json, kind: number): Record<string, unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: the fuzzer writes any value anywhere in the document
  const copy = structuredClone(doc) as Record<string, any>;
  const ids = Object.keys(copy.nodes ?? {});
  const id = ids[pick % Math.max(1, ids.length)] ?? 'x';
  const candidate = copy.nodes?.[id];
  const node = candidate && typeof candidate === 'object' && !Array.isArray(candidate) ? candidate : undefined;
  switch (kind % 14) {
    case 0:
      copy.format = value;
      break;
    case 1:
      if (node) node.type = value;
      break;
    case 2:
      if (node) node.version = value;
      break;
    case 3:
      if (node) node.params = { ...(node.params ?? {}), [Object.keys(node.params ?? { seed: 0 })[0] ?? 'seed']: value };
      break;
    case 4:
      if (node) node.params = { ...(node.params ?? {}), [`p${String(pick)}`]: value };
      break;
    case 5:
      if (node)
        node.inputs = { ...(node.inputs ?? {}), [Object.keys(node.inputs ?? { model: 0 })[0] ?? 'model']: value };
      break;
    case 6:
      if (node) delete node[['type', 'version', 'params', 'inputs'][pick % 4]!];
      break;
    case 7:
      copy.nodes = value;
      break;
    case 8: {
      // a cycle through the first two nodes
      const [a, b] = ids;
      if (
        a &&
        b &&
        copy.nodes[a] &&
        typeof copy.nodes[a] === 'object' &&
        copy.nodes[b] &&
        typeof copy.nodes[b] === 'object'
      ) {
        copy.nodes[a].inputs = { ...(copy.nodes[a].inputs ?? {}), model: { node: b, output: 'video' } };
        copy.nodes[b].inputs = { ...(copy.nodes[b].inputs ?? {}), video: { node: a, output: 'model' } };
      }
      break;
    }
    case 9:
      copy.nodes = { ...(copy.nodes ?? {}), [`unknown${pick}`]: { type: 'acme/never-heard-of', version: 1 } };
      break;
    case 10:
      if (node) node.params = deep(200 + (pick % 2000));
      break;
    case 11:
      copy[String(value).slice(0, 20) || 'extra'] = value;
      break;
    case 12:
      if (node) copy.nodes[id] = value;
      break;
    case 13:
      copy.metadata = value;
      break;
  }
  return copy;
}

describe('fuzzed workflows', () => {
  it('validate to success or coded issues, never a crash, in bounded time', () => {
    fc.assert(
      fc.property(
        fc.nat(workflows.length - 1),
        fc.nat(1000),
        nasty,
        fc.array(fc.nat(100), { minLength: 1, maxLength: 4 }),
        (w, pick, value, kinds) => {
          let doc = workflows[w]!;
          for (const kind of kinds) doc = mutate(doc, pick, value, kind);
          // Round trip through JSON text, as a workflow file would arrive.
          let parsed: unknown;
          try {
            parsed = JSON.parse(JSON.stringify(doc));
          } catch {
            return; // not representable as JSON (e.g. too deep for the serialiser): nothing to validate
          }
          const started = performance.now();
          const result = runtime.validate(parsed);
          expect(performance.now() - started).toBeLessThan(5000);
          if (result.ok) return;
          expect(result.issues.length).toBeGreaterThan(0);
          for (const issue of result.issues) {
            expect(VALIDATION_CODES).toContain(issue.code);
            expect(typeof issue.pointer).toBe('string');
            expect(issue.hint.length).toBeGreaterThan(0);
            const text = formatIssue(issue);
            expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack traces
            expect(text.length).toBeLessThan(5000); // a 10 MB string is never echoed back whole
          }
        },
      ),
      { numRuns: 100, seed: 20261124 },
    );
  });

  it('a generated 10,000-node workflow with problems everywhere is reported quickly', () => {
    const nodes: Record<string, unknown> = {};
    for (let i = 0; i < 10_000; i++)
      nodes[`n${i}`] = {
        type: i % 7 === 0 ? 'kinegraph/txt-encode' : 'kinegraph/stunet-sample',
        version: 1,
        params: { steps: i % 3 === 0 ? 'many' : 5 },
        inputs: {},
      };
    const started = performance.now();
    const result = runtime.validate({ format: 'kinegraph/workflow@1', nodes });
    expect(result.ok).toBe(false);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
