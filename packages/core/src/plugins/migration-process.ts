/**
 * Runs an isolated plugin's migration chain in a short-lived plugin process (`plugin-host.js --migrate`)
 * and waits for it: validation, which migrates saved nodes, is synchronous.
 */

import { spawnSync } from 'node:child_process';
import { KinegraphError } from '../util/errors.js';
import type { WireError } from './protocol.js';
import type { LaunchSpec } from './sandbox.js';
import { FrameDecoder } from './wire.js';

/** Longest a migration process may take. */
const MIGRATION_TIMEOUT_MS = 60_000;

/** What the migration process needs: the package and the node's saved state at version `from`. */
export interface MigrationRequest {
  readonly package: string;
  readonly dir: string;
  readonly entries: readonly string[];
  readonly type: string;
  readonly from: number;
  readonly node: unknown;
}

/**
 * The node's state after each step from `from` up to the installed version, as far as the steps
 * succeeded. Throws when not even the first step succeeded: the step's own error (its code kept), or
 * `PLUGIN_MIGRATION_FAILED` when the process itself failed.
 */
export function runMigration(launch: LaunchSpec, request: MigrationRequest): unknown[] {
  const child = spawnSync(launch.command, [...launch.args], {
    input: JSON.stringify({ ...request, networkBlocked: launch.network.blocked }),
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...launch.env },
    cwd: launch.cwd,
    timeout: MIGRATION_TIMEOUT_MS,
    maxBuffer: 256 * 1024 ** 2,
  });
  let answer: { states?: unknown; error?: WireError } | undefined;
  const decoder = new FrameDecoder(
    (message) => {
      answer ??= message as typeof answer;
    },
    () => undefined,
  );
  const out = child.output?.[3];
  if (out) decoder.push(Buffer.isBuffer(out) ? out : Buffer.from(out));
  const states = Array.isArray(answer?.states) ? answer.states : [];
  if (states.length) return states;
  const stderr = child.stderr?.length ? `: ${String(child.stderr).trim().split('\n').slice(-3).join(' ')}` : '';
  const why =
    answer?.error?.message ??
    `its migration process ${child.error ? `failed: ${child.error.message}` : `exited with code ${child.status}`}${stderr}`;
  throw new KinegraphError(answer?.error?.code ?? 'PLUGIN_MIGRATION_FAILED', why);
}
