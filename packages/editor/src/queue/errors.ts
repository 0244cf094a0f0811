/** Coded errors of the queue that several modules raise. */
import { HttpError } from '../server/http.js';
import type { QueueLocation } from './redis.js';

/** 503 `QUEUE_UNAVAILABLE`: Redis cannot be reached; nothing was changed. */
export function unavailable(location: QueueLocation, error: Error): HttpError {
  return new HttpError(
    503,
    'QUEUE_UNAVAILABLE',
    `The queue's Redis (${location.display}) cannot be reached: ${error.message}. Nothing was changed.`,
    'Try again when Redis is back; runs already queued are kept.',
  );
}
