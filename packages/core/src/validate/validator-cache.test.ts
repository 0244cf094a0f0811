import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { validatorCacheDir } from './validator-cache.js';

// A schema with what node params use: defaults, bounds, a union of literals, a pattern, strictness.
const schema = Type.Object(
  {
    steps: Type.Integer({ default: 25, minimum: 1, maximum: 200 }),
    sampler: Type.Union([Type.Literal('ddim'), Type.Literal('dpmpp-2m')], { default: 'ddim' }),
    prefix: Type.String({ default: 'kg', pattern: '^[a-z]+$', maxLength: 8 }),
  },
  { additionalProperties: false },
);

let dir: string;
const saved = process.env.KINEGRAPH_CACHE;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-ajv-cache-'));
  process.env.KINEGRAPH_CACHE = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.KINEGRAPH_CACHE;
  else process.env.KINEGRAPH_CACHE = saved;
  rmSync(dir, { recursive: true, force: true });
});

/** validatorFor as a fresh process sees it (its in-memory memo empty). */
async function freshValidatorFor() {
  vi.resetModules();
  return (await import('./ajv.js')).validatorFor;
}

/** What a validator does with inputs: verdict, errors, and the defaults it filled in. */
function outcomes(validate: ReturnType<Awaited<ReturnType<typeof freshValidatorFor>>>) {
  const inputs: Record<string, unknown>[] = [
    {},
    { steps: 0 },
    { steps: 3.5, sampler: 'euler', prefix: 'A-B', extra: 1 },
    { steps: 10, sampler: 'dpmpp-2m', prefix: 'abcdefghij' },
  ];
  return inputs.map((input) => {
    const ok = validate(input);
    return {
      ok,
      input,
      errors: (validate.errors ?? []).map((e) => ({
        keyword: e.keyword,
        instancePath: e.instancePath,
        params: e.params,
      })),
    };
  });
}

describe('validator cache', () => {
  test('a fresh process loads the saved validator, which behaves exactly like a compiled one', async () => {
    const compiled = (await freshValidatorFor())(schema);
    const files = readdirSync(join(dir, 'ajv'));
    expect(files).toHaveLength(1);
    const loaded = (await freshValidatorFor())(schema);
    expect(loaded).not.toBe(compiled);
    expect(outcomes(loaded)).toEqual(outcomes(compiled));
    expect(outcomes(loaded)[0]).toEqual({ ok: true, input: { steps: 25, sampler: 'ddim', prefix: 'kg' }, errors: [] });
    expect(readdirSync(join(dir, 'ajv'))).toEqual(files);
  });

  test('a damaged file is replaced; another schema is another entry; off writes nothing', async () => {
    (await freshValidatorFor())(schema);
    const [file] = readdirSync(join(dir, 'ajv'));
    writeFileSync(join(dir, 'ajv', file!), 'module.exports = (');
    const recovered = (await freshValidatorFor())(schema);
    expect(recovered({ steps: 0 })).toBe(false);
    expect(readdirSync(join(dir, 'ajv'))).toEqual([file]);
    (await freshValidatorFor())(Type.Object({ steps: Type.Integer({ minimum: 2 }) }));
    expect(readdirSync(join(dir, 'ajv'))).toHaveLength(2);

    // A file others may write is not run: the validator is compiled instead (and the file replaced).
    const [first] = readdirSync(join(dir, 'ajv')).sort();
    writeFileSync(join(dir, 'ajv', first!), 'module.exports = () => true;');
    chmodSync(join(dir, 'ajv', first!), 0o666);
    const fresh = await freshValidatorFor();
    expect(
      fresh(schema)({ steps: 0 }) || fresh(Type.Object({ steps: Type.Integer({ minimum: 2 }) }))({ steps: 0 }),
    ).toBe(false);

    process.env.KINEGRAPH_CACHE = 'off';
    expect(validatorCacheDir()).toBeUndefined();
    const uncached = (await freshValidatorFor())(Type.Object({ other: Type.String() }));
    expect(uncached({ other: 1 })).toBe(false);
    expect(readdirSync(join(dir, 'ajv'))).toHaveLength(2);
  });
});
