import type { TObject, TSchema } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import { didYouMean, listOf } from '../util/did-you-mean.js';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import { validatorFor } from './ajv.js';

/** Phase 3, params: validates (and fills defaults into) a node's params, returning the issues found. */
export function validateParams(nodeId: string, schema: TObject, params: Record<string, unknown>): ValidationIssue[] {
  const validate = validatorFor(strictObject(schema));
  if (validate(params)) return [];
  const issues: ValidationIssue[] = [];
  const names = Object.keys(schema.properties);
  for (const error of validate.errors ?? []) issues.push(toIssue(nodeId, schema, names, error));
  return dedupe(issues);
}

// Unknown params are errors even when a plugin forgot `additionalProperties: false`: a typo in a saved
// workflow must not be silently ignored.
const strictCache = new WeakMap<TObject, TObject>();
function strictObject(schema: TObject): TObject {
  if (schema.additionalProperties === false) return schema;
  let strict = strictCache.get(schema);
  if (!strict) {
    strict = { ...schema, additionalProperties: false } as TObject;
    strictCache.set(schema, strict);
  }
  return strict;
}

function toIssue(nodeId: string, schema: TObject, names: string[], error: ErrorObject): ValidationIssue {
  const base = pointer('nodes', nodeId, 'params');
  const path = error.instancePath;
  if (error.keyword === 'additionalProperties' && path === '') {
    const name = String((error.params as { additionalProperty: string }).additionalProperty);
    const close = didYouMean(name, names);
    return {
      code: 'PARAM_UNKNOWN',
      nodeId,
      pointer: base + pointer(name),
      message: `Unknown param "${name}".`,
      hint: `${close.length ? `Did you mean ${listOf(close.map((c) => `"${c}"`))}? ` : ''}Valid params: ${names.length ? listOf(names) : '(none)'}.`,
    };
  }
  if (error.keyword === 'required' && path === '') {
    const name = String((error.params as { missingProperty: string }).missingProperty);
    return {
      code: 'PARAM_MISSING',
      nodeId,
      pointer: base + pointer(name),
      message: `Required param "${name}" is missing.`,
      hint: `Set "${name}": ${describeSchema(schema.properties[name])}.`,
    };
  }
  const topName = path.split('/')[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
  const sub = topName !== undefined ? schema.properties[topName] : undefined;
  return {
    code: 'PARAM_INVALID',
    nodeId,
    pointer: base + path,
    message:
      `Param ${topName !== undefined ? `"${topName}"` : ''}${path.split('/').length > 2 ? ` at ${path}` : ''} ${error.message ?? 'is invalid'}.`.replace(
        /\s+/g,
        ' ',
      ),
    hint: sub ? `Expected ${describeSchema(sub)}.` : 'See the node\u2019s param schema (`kinegraph nodes --json`).',
  };
}

/** A short human description of what a schema accepts, listing enum values and ranges. */
export function describeSchema(schema: TSchema | undefined): string {
  if (!schema) return 'a value';
  const s = schema as Record<string, unknown>;
  const literals = literalValues(s);
  if (literals) return `one of ${listOf(literals.map((v) => JSON.stringify(v)))}`;
  const type = typeof s.type === 'string' ? s.type : 'value';
  const parts: string[] = [
    type === 'integer' ? 'an integer' : type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`,
  ];
  if (typeof s.minimum === 'number' && typeof s.maximum === 'number') parts.push(`from ${s.minimum} to ${s.maximum}`);
  else if (typeof s.minimum === 'number') parts.push(`\u2265 ${s.minimum}`);
  else if (typeof s.maximum === 'number') parts.push(`\u2264 ${s.maximum}`);
  if (typeof s.exclusiveMinimum === 'number') parts.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.exclusiveMaximum === 'number') parts.push(`< ${s.exclusiveMaximum}`);
  if (typeof s.maxLength === 'number') parts.push(`of at most ${s.maxLength} characters`);
  if (s.default !== undefined) parts.push(`(default ${JSON.stringify(s.default)})`);
  return parts.join(' ');
}

function literalValues(s: Record<string, unknown>): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum as unknown[];
  const alternatives = (s.anyOf ?? s.oneOf) as Array<Record<string, unknown>> | undefined;
  if (Array.isArray(alternatives) && alternatives.every((a) => 'const' in a)) return alternatives.map((a) => a.const);
  return undefined;
}

// anyOf produces one error per branch plus a summary; keep one issue per pointer and code.
function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Map<string, ValidationIssue>();
  for (const issue of issues) {
    const key = `${issue.code}:${issue.pointer}`;
    if (!seen.has(key)) seen.set(key, issue);
  }
  return [...seen.values()];
}
