import type { ScheduleSpec } from '../sampling/schedule.js';

/** One model file's declared input or output. */
export interface ManifestPort {
  readonly name: string;
  readonly dtype: string;
  readonly dims: ReadonlyArray<number | string>;
}

/** One model of a pack. */
export interface ManifestModel {
  readonly file: string;
  readonly inputs: readonly ManifestPort[];
  readonly outputs: readonly ManifestPort[];
  readonly train_window_frames?: number;
  readonly [key: string]: unknown;
}

/** A style a pack ships: spatial-layer weights for the StyleAdapter. */
export interface ManifestStyle {
  readonly name: string;
  readonly file: string;
  readonly description?: string;
  readonly target?: string;
}

/**
 * The parts of a model pack's `manifest.json` the runtime relies on (see models/kinegraph-tiny). Other
 * fields are kept and shown, never required.
 */
export interface PackManifest {
  readonly name: string;
  readonly version: string;
  readonly license?: string;
  readonly frames: number;
  readonly fps: number;
  readonly resolution: { readonly base: readonly [number, number]; readonly ssr?: readonly [number, number] };
  readonly prediction_type: 'v_prediction' | 'epsilon';
  readonly schedule: ScheduleSpec;
  readonly sampling?: { readonly default_steps?: number; readonly default_cfg_scale?: number };
  readonly tokenizer: {
    readonly file: string;
    readonly max_length: number;
    readonly pad_id: number;
    readonly unk_id: number;
  };
  readonly models: {
    readonly text_encoder: ManifestModel;
    readonly t2i?: ManifestModel;
    readonly stunet: ManifestModel;
    readonly ssr?: ManifestModel;
  };
  readonly styles?: readonly ManifestStyle[];
  readonly files: ReadonlyArray<{ readonly path: string; readonly bytes: number; readonly sha256: string }>;
  readonly held_out?: unknown;
  readonly attributes?: Record<string, readonly string[]>;
}

/** Checks the fields the runtime needs; returns the problems found (empty when usable). */
export function manifestProblems(value: unknown): string[] {
  const m = value as Partial<PackManifest> | null;
  if (!m || typeof m !== 'object') return ['manifest.json is not a JSON object'];
  const problems: string[] = [];
  const need = (ok: unknown, what: string) => {
    if (!ok) problems.push(what);
  };
  need(typeof m.name === 'string', '"name" (string)');
  need(Number.isInteger(m.frames) && m.frames! > 0, '"frames" (positive integer)');
  need(typeof m.fps === 'number' && m.fps > 0, '"fps" (positive number)');
  need(Array.isArray(m.resolution?.base) && m.resolution!.base.length === 2, '"resolution.base" ([height, width])');
  need(
    m.prediction_type === 'v_prediction' || m.prediction_type === 'epsilon',
    '"prediction_type" ("v_prediction" or "epsilon")',
  );
  need(typeof m.schedule?.num_train_timesteps === 'number', '"schedule.num_train_timesteps"');
  need(
    typeof m.tokenizer?.file === 'string' && typeof m.tokenizer?.max_length === 'number',
    '"tokenizer.file" and "tokenizer.max_length"',
  );
  need(typeof m.models?.text_encoder?.file === 'string', '"models.text_encoder.file"');
  need(typeof m.models?.stunet?.file === 'string', '"models.stunet.file"');
  need(Array.isArray(m.files), '"files" (list with path, bytes, sha256)');
  return problems;
}
