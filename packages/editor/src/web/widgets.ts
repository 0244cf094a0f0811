/** How a param's JSON Schema becomes a control: litegraph widget kind and options, and the inspector's. */

/** The control a param gets. */
export type ParamControl =
  | { kind: 'combo'; values: (string | number)[] }
  | { kind: 'toggle' }
  | { kind: 'slider'; min: number; max: number; step: number; precision: number }
  | { kind: 'number'; min?: number; max?: number; step: number; precision: number; seed: boolean }
  | { kind: 'text'; multiline: boolean; maxLength?: number }
  | { kind: 'json' };

/** A JSON Schema as far as controls care. */
export interface ParamSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: ParamSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  default?: unknown;
  description?: string;
  maxLength?: number;
  'x-multiline'?: boolean;
  [key: string]: unknown;
}

/**
 * Picks the control for one param. Enumerations (an `enum` or an `anyOf` of consts, TypeBox's union of
 * literals) become combos; bounded floats with a short range become sliders; integers and unbounded numbers
 * become number fields (a param named `seed` also gets a randomize button).
 */
export function controlFor(name: string, schema: ParamSchema): ParamControl {
  const values =
    schema.enum ?? (schema.anyOf?.every((s) => 'const' in s) ? schema.anyOf.map((s) => s.const) : undefined);
  if (values?.every((v) => typeof v === 'string' || typeof v === 'number'))
    return { kind: 'combo', values: values as (string | number)[] };
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'boolean') return { kind: 'toggle' };
  if (type === 'integer' || type === 'number') {
    const min = schema.minimum ?? schema.exclusiveMinimum;
    const max = schema.maximum ?? schema.exclusiveMaximum;
    const integer = type === 'integer';
    const step =
      schema.multipleOf ?? (integer ? 1 : max !== undefined && min !== undefined && max - min <= 1 ? 0.01 : 0.1);
    const precision = integer ? 0 : Math.max(0, Math.ceil(-Math.log10(step)));
    const seed = /seed$/i.test(name) && integer;
    if (!integer && min !== undefined && max !== undefined && max - min <= 100)
      return { kind: 'slider', min, max, step, precision };
    return {
      kind: 'number',
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      step,
      precision,
      seed,
    };
  }
  if (type === 'string')
    return {
      kind: 'text',
      multiline: schema['x-multiline'] === true,
      ...(schema.maxLength !== undefined ? { maxLength: schema.maxLength } : {}),
    };
  return { kind: 'json' };
}

/** The value a new node starts with: the schema's default, else the natural empty value of its control. */
export function defaultValue(schema: ParamSchema, control: ParamControl): unknown {
  if (schema.default !== undefined) return structuredClone(schema.default);
  switch (control.kind) {
    case 'combo':
      return control.values[0];
    case 'toggle':
      return false;
    case 'slider':
      return control.min;
    case 'number':
      return control.min ?? 0;
    case 'text':
      return '';
    case 'json':
      return null;
  }
}

/** A new random seed within the param's bounds. */
export function randomSeed(control: Extract<ParamControl, { kind: 'number' }>): number {
  const min = control.min ?? 0;
  const max = Math.min(control.max ?? 2 ** 31 - 1, Number.MAX_SAFE_INTEGER);
  return min + Math.floor(Math.random() * (max - min + 1));
}
