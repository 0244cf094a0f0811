import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { paramSchemaProblem } from './schema-check.js';

const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as unknown;

describe('param schemas of isolated plugins', () => {
  it('pass when made of what TypeBox makes for params', () => {
    const schema = Type.Object({
      lift: Type.Array(Type.Number({ minimum: -1, maximum: 1 }), { minItems: 3, maxItems: 3, default: [0, 0, 0] }),
      curve: Type.Union([Type.Literal('linear'), Type.Literal('smooth')], { default: 'smooth' }),
      name: Type.String({ pattern: '^[a-z]+$', maxLength: 20, 'x-multiline': true }),
      seed: Type.Optional(Type.Integer({ exclusiveMinimum: 0 })),
      pair: Type.Tuple([Type.Number(), Type.String()]),
    });
    expect(paramSchemaProblem(plain(schema))).toBeUndefined();
  });

  it.each([
    ['a $ref', { type: 'object', properties: { a: { $ref: 'http://example.com/x' } } }, '"$ref"'],
    ['if/else', { type: 'object', if: { type: 'object' }, else: {} }, '"if"'],
    [
      'an invalid pattern',
      { type: 'object', properties: { a: { type: 'string', pattern: '(' } } },
      'not a valid pattern',
    ],
    ['a long pattern', { type: 'string', pattern: 'a'.repeat(501) }, 'more than 500'],
    ['deep nesting', JSON.parse(`${'{"not":'.repeat(40)}{}${'}'.repeat(40)}`), 'nested more than'],
    ['a huge schema', { type: 'object', description: 'x'.repeat(300_000) }, 'characters of JSON'],
    ['a non-schema', { type: 'object', properties: { a: 3 } }, 'is not a schema'],
  ])('refuse %s', (_name, schema, message) => {
    expect(paramSchemaProblem(schema)).toContain(message);
  });
});
