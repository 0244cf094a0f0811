/** What a worker and the server say to each other over HTTP (`/api/worker/...`). */

/** The header that carries a worker's claim on a run. */
export const CLAIM_HEADER = 'x-kinegraph-claim';

/** One file of a commit. */
export interface CommitFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** `POST /api/worker/runs/:id/commit` answer: the run's files, and whose they are. */
export interface CommitAnswer {
  /** `yours`: this attempt's files were published; `earlier`: an earlier attempt had committed already. */
  readonly committed: 'yours' | 'earlier';
  /** URLs (`/api/outputs/<run>/...`) of the run's files. */
  readonly files: string[];
}
