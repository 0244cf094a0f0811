/**
 * Checks the param schema of an isolated plugin's node before the runtime compiles it. Validation
 * compiles every node's JSON Schema with ajv in the runtime's own process, and ajv treats schemas "as
 * trusted as your application code" (its security notes): an isolated plugin's schema is not. Only the
 * keywords TypeBox makes for params pass (and `x-` annotations, which ajv ignores), nested at most
 * {@link MAX_DEPTH} deep, at most {@link MAX_SCHEMA_CHARS} of JSON, with patterns that are valid and short.
 */

const MAX_DEPTH = 24;
const MAX_SCHEMA_CHARS = 256 * 1024;
const MAX_PATTERN_CHARS = 500;

/** Keywords whose values are data or simple constraints. */
const PLAIN = new Set([
  'type',
  'required',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minProperties',
  'maxProperties',
  'format',
  'enum',
  'const',
  'default',
  'description',
  'title',
  'examples',
  '$comment',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
  'contentEncoding',
]);

/** What is wrong with a param schema from an isolated plugin, or undefined when nothing is. */
export function paramSchemaProblem(schema: unknown): string | undefined {
  const size = JSON.stringify(schema ?? null).length;
  if (size > MAX_SCHEMA_CHARS) return `the param schema is ${size} characters of JSON (at most ${MAX_SCHEMA_CHARS})`;
  return check(schema, '', 0);
}

function check(schema: unknown, at: string, depth: number): string | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return `${at || '/'} is not a schema`;
  if (depth > MAX_DEPTH) return `${at} is nested more than ${MAX_DEPTH} levels deep`;
  for (const [key, value] of Object.entries(schema)) {
    const here = `${at}/${key}`;
    if (PLAIN.has(key) || key.startsWith('x-')) continue;
    let problem: string | undefined;
    switch (key) {
      case 'pattern':
        problem = patternProblem(value, here);
        break;
      case 'properties':
      case 'patternProperties':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${here} is not an object`;
        for (const [name, sub] of Object.entries(value)) {
          if (key === 'patternProperties') problem ??= patternProblem(name, here);
          problem ??= check(sub, `${here}/${name}`, depth + 1);
        }
        break;
      case 'items':
        problem = Array.isArray(value)
          ? value.map((sub, i) => check(sub, `${here}/${i}`, depth + 1)).find(Boolean)
          : check(value, here, depth + 1);
        break;
      case 'additionalItems':
      case 'additionalProperties':
      case 'not':
        problem = check(value, here, depth + 1);
        break;
      case 'anyOf':
      case 'oneOf':
      case 'allOf':
        if (!Array.isArray(value)) return `${here} is not a list`;
        problem = value.map((sub, i) => check(sub, `${here}/${i}`, depth + 1)).find(Boolean);
        break;
      default:
        // $ref, $id, $defs, if/then/else, dependencies, custom ajv keywords: not for params.
        return `${here}: the keyword "${key}" is not allowed in the params of an isolated plugin`;
    }
    if (problem) return problem;
  }
  return undefined;
}

function patternProblem(pattern: unknown, at: string): string | undefined {
  if (typeof pattern !== 'string') return `${at} is not a string`;
  if (pattern.length > MAX_PATTERN_CHARS) return `${at} is a pattern of more than ${MAX_PATTERN_CHARS} characters`;
  try {
    new RegExp(pattern, 'u');
    return undefined;
  } catch {
    return `${at} is not a valid pattern`;
  }
}
