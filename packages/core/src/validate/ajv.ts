import { Ajv, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';

/**
 * One ajv instance for the process. `useDefaults` fills in param defaults so `run` always sees complete
 * params; `allErrors` because validation lists every problem at once.
 */
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, validateFormats: false });

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles (once per schema object) a validator for a TypeBox schema. */
export function validatorFor(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}
