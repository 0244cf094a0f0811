import { createRequire } from 'node:module';
import type { TSchema } from '@sinclair/typebox';
import type { Ajv, Options, ValidateFunction } from 'ajv';
import { loadValidator, saveValidator, validatorCacheDir, validatorKey } from './validator-cache.js';

/**
 * Options of the process's ajv instance. `useDefaults` fills in param defaults so `run` always sees
 * complete params; `allErrors` because validation lists every problem at once.
 *
 * `validateSchema: false`: ajv would otherwise compile the draft-07 meta-schema on first use to check each
 * schema (≈ 50 ms of every `kinegraph run`). The schemas are built with TypeBox, well-formed by
 * construction, and ajv still refuses what it cannot compile (an unknown type, a bad $ref).
 * `code.source` keeps the generated code, which the validator cache saves.
 */
const OPTIONS = {
  allErrors: true,
  useDefaults: true,
  strict: false,
  coerceTypes: false,
  validateFormats: false,
  validateSchema: false,
  code: { source: true },
} satisfies Options;
const OPTIONS_KEY = JSON.stringify(OPTIONS);

// ajv itself is loaded only when a validator has to be compiled: with every validator in the disk cache
// (every run after the first), a process never loads its ≈ 270 KB of code.
const requireFromHere = createRequire(import.meta.url);
let instance: Ajv | undefined;
function ajv(): Ajv {
  instance ??= new (requireFromHere('ajv') as typeof import('ajv')).Ajv(OPTIONS);
  return instance;
}

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * The validator of a TypeBox schema: compiled once per schema object in a process, and loaded from the
 * on-disk validator cache (see validator-cache.ts) when an earlier process compiled the same schema.
 */
export function validatorFor(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = cachedOrCompiled(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

function cachedOrCompiled(schema: TSchema): ValidateFunction {
  const dir = validatorCacheDir();
  if (dir === undefined) return ajv().compile(schema);
  const key = validatorKey(schema, OPTIONS_KEY);
  const cached = loadValidator(dir, key);
  if (cached) return cached;
  const validate = ajv().compile(schema);
  let code: string | undefined;
  try {
    const standalone = requireFromHere('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js');
    code = standalone.default(ajv(), validate);
  } catch {
    // A schema standalone code cannot express is validated with the compiled function, uncached.
  }
  if (code !== undefined) saveValidator(dir, key, code);
  return validate;
}
