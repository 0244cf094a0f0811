/**
 * The run history on disk, so that it survives a server restart: one JSON file per finished run (its
 * snapshot, the workflow as submitted, and its thumbnail), written atomically (temporary file, then rename)
 * so a crash never leaves half a record. Files that cannot be read back are skipped with a warning, never
 * fatal: a damaged history must not stop the editor from starting.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSnapshot, WirePreview } from '../shared/protocol.js';
import { isFinished } from '../shared/run-state.js';

/** What is kept of one run. */
export interface StoredRun {
  readonly snapshot: RunSnapshot;
  /** The workflow document exactly as it was submitted. */
  readonly workflow: unknown;
  /** The last preview the run made, for its row in the history. */
  readonly thumbnail?: WirePreview;
}

/** Version of the record format, for readers of older files. */
const RECORD_VERSION = 1;
/** A run id is a UUID: anything else in a file name is not ours. */
const ID_PATTERN = /^[0-9a-f-]{36}$/;

/** Finished runs, one file each in `folder`. */
export class HistoryStore {
  constructor(
    readonly folder: string,
    private readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {}

  /** Every stored run, oldest first. Unreadable records are skipped (and named in a warning). */
  load(): StoredRun[] {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch {
      return []; // No history yet.
    }
    const runs: StoredRun[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        // A write that a crash interrupted: never renamed, so never part of the history.
        rmSync(join(this.folder, name), { force: true });
        continue;
      }
      const id = name.replace(/\.json$/, '');
      if (!name.endsWith('.json') || !ID_PATTERN.test(id)) continue;
      try {
        const record = JSON.parse(readFileSync(join(this.folder, name), 'utf8')) as {
          version?: number;
        } & Partial<StoredRun>;
        const snapshot = record.snapshot;
        if (
          record.version !== RECORD_VERSION ||
          !snapshot ||
          snapshot.id !== id ||
          !isFinished(snapshot) ||
          typeof snapshot.createdAt !== 'number' ||
          typeof snapshot.nodes !== 'object'
        )
          throw new Error('not a finished run record of this version');
        runs.push({
          snapshot,
          workflow: record.workflow,
          ...(record.thumbnail ? { thumbnail: record.thumbnail } : {}),
        });
      } catch (error) {
        this.warn(`kinegraph serve: skipping history record ${name}: ${(error as Error).message}`);
      }
    }
    return runs.sort((a, b) => a.snapshot.createdAt - b.snapshot.createdAt);
  }

  /** Writes (or rewrites) one finished run. Failures are reported, not thrown: the run itself succeeded. */
  save(run: StoredRun): void {
    if (!ID_PATTERN.test(run.snapshot.id)) return;
    const target = join(this.folder, `${run.snapshot.id}.json`);
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(this.folder, { recursive: true });
      writeFileSync(temp, JSON.stringify({ version: RECORD_VERSION, ...run }), { flag: 'wx' });
      renameSync(temp, target);
    } catch (error) {
      rmSync(temp, { force: true });
      this.warn(`kinegraph serve: could not save run ${run.snapshot.id} to the history: ${(error as Error).message}`);
    }
  }

  /** The workflow stored with a run, read from its record; undefined when there is none. */
  workflowOf(id: string): unknown {
    if (!ID_PATTERN.test(id)) return undefined;
    try {
      return (JSON.parse(readFileSync(join(this.folder, `${id}.json`), 'utf8')) as { workflow?: unknown }).workflow;
    } catch {
      return undefined;
    }
  }

  /** Deletes the records of runs the server no longer keeps. */
  delete(ids: readonly string[]): void {
    for (const id of ids) {
      if (!ID_PATTERN.test(id)) continue;
      try {
        unlinkSync(join(this.folder, `${id}.json`));
      } catch {
        // Already gone.
      }
    }
  }
}
