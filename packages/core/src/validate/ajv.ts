import { Ajv, type Options, type ValidateFunction } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import type { TSchema } from '@sinclair/typebox';
import { loadValidator, saveValidator, validatorCacheDir, validatorKey } from './validator-cache.js';

/**
 * Options of the one ajv instance of the process. `useDefaults` fills in param defaults so `run` always
 * sees complete params; `allErrors` because validation lists every problem at once.
 *
 * `validateSchema: false`: ajv would otherwise compile the draft-07 meta-schema on first use to check each
 * schema (≈ 50 ms of every `kinegraph run`). The schemas are built with TypeBox, well-formed by
 * construction, and ajv still refuses what it cannot compile (an unknown type, a bad $ref).
 * `code.source` keeps the generated code, which the validator cache saves.
 */
const OPTIONS = { allErrors: true, useDefaults: true, strict: false, coerceTypes: false, validateFormats: false, validateSchema: false, code: { source: true } } satisfies Options;

/** The ajv instance of the process. */
export const ajv = new Ajv(OPTIONS);

const OPTIONS_KEY = JSON.stringify(OPTIONS);
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
  if (dir === undefined) return ajv.compile(schema);
  const key = validatorKey(schema, OPTIONS_KEY);
  const cached = loadValidator(dir, key);
  if (cached) return cached;
  const validate = ajv.compile(schema);
  let code: string | undefined;
  try {
    // CommonJS interop: the module object is the function, and `.default` is too.
    code = standalone.default(ajv, validate);
  } catch {
    // A schema standalone code cannot express is validated with the compiled function, uncached.
  }
  if (code !== undefined) saveValidator(dir, key, code);
  return validate;
}
