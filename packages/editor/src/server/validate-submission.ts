import type { PreparedWorkflow, Runtime } from '@kinegraph/core';
import type { SubmitOptions } from '../queue/backend.js';
import { HttpError } from './http.js';

/**
 * Validates a submitted workflow for a run (of `options.targets` only, for a partial run), as every run
 * backend does before it queues anything. Returns the prepared graph; throws a 400 `WORKFLOW_INVALID`
 * listing every problem.
 */
export function validateSubmission(
  runtime: Runtime,
  document: unknown,
  options: Pick<SubmitOptions, 'targets'>,
): PreparedWorkflow {
  const result = runtime.validate(document, [], options.targets ? { targets: options.targets } : {});
  if (result.ok) return result.prepared;
  const n = result.issues.length;
  throw new HttpError(
    400,
    'WORKFLOW_INVALID',
    `The workflow has ${n} problem${n === 1 ? '' : 's'}.`,
    'Each issue names its node, a JSON pointer and a hint.',
    result.issues,
  );
}
