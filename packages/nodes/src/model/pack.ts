import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  fileSha256,
  KinegraphError,
  type ModelHandle,
  type ModelOptions,
  type ModelValue,
  type TensorStore,
} from '@kinegraph/core/sdk';
import { manifestProblems, type PackManifest } from './manifest.js';
import { forgetVerified, markVerified, saveVerified, wasVerified } from './verified-record.js';

/**
 * Sessions loaded with the pack. The STUNet is loaded by the node that samples with it ({@link loadStunet}),
 * with the sampler's update step appended to it, and the text-to-image and super-resolution models on
 * first use ({@link packModel}): a run creates only the sessions it uses.
 */
export interface PackSessions {
  readonly textEncoder: ModelHandle;
}

/**
 * Where the STUNet session of a pack comes from: the model file and the options it is created with (the
 * StyleAdapter adds its interpolated weights as initializer overrides).
 */
export interface StunetSource {
  readonly path: string;
  readonly options: ModelOptions;
}

/** Models of a pack that are loaded when a node first needs them. */
export type OnDemandRole = 't2i' | 'ssr';

/** The value of a `model` port made by LoadModelPack: the manifest, its folder and loaded sessions. */
export interface PackValue extends ModelValue {
  readonly kind: 'model';
  readonly name: string;
  readonly dir: string;
  readonly manifest: PackManifest;
  readonly sessions: PackSessions;
  readonly stunet: StunetSource;
  readonly tokenizerJson: object;
  /** Set by StyleAdapter: which style is blended into the STUNet, and how much. */
  readonly style?: { readonly name: string; readonly alpha: number };
}

/** Narrows a `model` input to a pack, with a clear error for models from other node libraries. */
export function asPack(value: unknown, nodeId: string): PackValue {
  const pack = value as Partial<PackValue> | undefined;
  if (pack?.kind !== 'model' || !pack.manifest || !pack.sessions || !pack.stunet) {
    throw new KinegraphError('MODEL_NOT_A_PACK', 'The model input is not a Kinegraph model pack.', {
      nodeId,
      hint: 'Connect the "model" output of a kinegraph/load-model-pack (or kinegraph/style-adapter) node.',
    });
  }
  return pack as PackValue;
}

/**
 * Folders searched for packs by name, in order: `$KINEGRAPH_MODELS` (colon-separated), `models/` in the
 * current directory, and the `models/` folder of the Kinegraph checkout these nodes were built in.
 */
export function packSearchFolders(cwd = process.cwd()): string[] {
  const fromEnv = (process.env.KINEGRAPH_MODELS ?? '').split(':').filter(Boolean);
  const shipped = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
  return [...new Set([...fromEnv.map((f) => resolve(f)), resolve(cwd, 'models'), shipped])];
}

/** The folder of a pack by name; throws MODEL_PACK_NOT_FOUND listing where it looked and what exists. */
export async function findPack(name: string, folders = packSearchFolders()): Promise<string> {
  for (const folder of folders) {
    const dir = join(folder, name);
    if (existsSync(join(dir, 'manifest.json'))) return dir;
  }
  throw new KinegraphError('MODEL_PACK_NOT_FOUND', `Model pack "${name}" was not found.`, {
    hint: `Looked in ${folders.join(', ')}. The shipped pack is "kinegraph-tiny"; set KINEGRAPH_MODELS to add folders.`,
  });
}

/** Reads and checks a pack's manifest. */
export async function readManifest(dir: string): Promise<PackManifest> {
  const file = join(dir, 'manifest.json');
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new KinegraphError('MANIFEST_INVALID', `${file} cannot be read as JSON: ${(error as Error).message}.`, {
      hint: 'Re-export the pack (make -C training export).',
    });
  }
  const problems = manifestProblems(value);
  if (problems.length) {
    throw new KinegraphError('MANIFEST_INVALID', `${file} lacks ${problems.join(', ')}.`, {
      hint: 'Re-export the pack (make -C training export).',
    });
  }
  return value as PackManifest;
}

/**
 * Checks every file the manifest lists: present, of the stated size and sha256. Throws
 * MODEL_FILE_MISSING or MODEL_FILE_CORRUPT naming the file.
 */
export async function verifyPackFiles(dir: string, manifest: PackManifest): Promise<void> {
  // Every file is checked at once (reads overlap with hashing); the first problem in manifest order is
  // the one reported, so the error does not depend on which read finished first.
  const problems = await Promise.all(manifest.files.map((entry) => fileProblem(dir, manifest, entry)));
  await saveVerified();
  const first = problems.find((p) => p !== undefined);
  if (first) throw first;
}

async function fileProblem(
  dir: string,
  manifest: PackManifest,
  entry: PackManifest['files'][number],
): Promise<KinegraphError | undefined> {
  const path = join(dir, entry.path);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    return new KinegraphError(
      'MODEL_FILE_MISSING',
      `Model pack "${manifest.name}" is missing ${entry.path} (expected at ${path}).`,
      {
        hint: 'Restore the file (git checkout models/), or re-export the pack: make -C training export.',
      },
    );
  }
  // A file hashed before (by this or an earlier process, see verified-record.ts) and not written since is
  // not hashed again.
  const identity = verificationIdentity(info, entry.sha256);
  if (await wasVerified(path, identity)) return undefined;
  if (info.size !== entry.bytes || (await fileSha256(path)) !== entry.sha256) {
    forgetVerified(path);
    return new KinegraphError(
      'MODEL_FILE_CORRUPT',
      `${path} does not match the manifest (size ${info.size} vs ${entry.bytes}, or a different sha256).`,
      {
        hint: 'The file is damaged or from another export: restore it, or re-export the whole pack (make -C training export).',
      },
    );
  }
  markVerified(path, identity);
  return undefined;
}

/** What must not change for a file's earlier verification against `sha256` to still hold. */
export function verificationIdentity(
  info: { ino: number; size: number; mtimeMs: number; ctimeMs: number },
  sha256: string,
): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}:${sha256}`;
}

/** Loads one model file of a pack (pooled by the store), naming the file when ONNX Runtime refuses it. */
async function loadPackFile(
  dir: string,
  file: string,
  tensors: TensorStore,
  options: ModelOptions = {},
): Promise<ModelHandle> {
  try {
    return await tensors.loadModel(join(dir, file), options);
  } catch (error) {
    // Only ONNX Runtime refusing the file is the file's fault; a device that cannot start (DEVICE_UNAVAILABLE)
    // or a closed store keeps its own code and hint.
    if ((error as { code?: unknown }).code !== 'MODEL_LOAD_FAILED') throw error;
    throw new KinegraphError(
      'MODEL_FILE_CORRUPT',
      `${join(dir, file)} could not be loaded by ONNX Runtime: ${(error as Error).message}`,
      {
        hint: 'Restore the file, or re-export the pack: make -C training export.',
        cause: error,
      },
    );
  }
}

/** Loads a pack's text encoder into the store (pooled: loading the same pack twice reuses it). */
export async function loadPack(dir: string, tensors: TensorStore, options: { verify: boolean }): Promise<PackValue> {
  const manifest = await readManifest(dir);
  const models = manifest.models;
  // The text encoder's session is created in the inference worker while this thread hashes the files;
  // a verification failure still wins (it names the file and what is wrong with it), so the load's own
  // error is only reported when verification passed or was off.
  const textEncoder = loadPackFile(dir, models.text_encoder.file, tensors);
  textEncoder.catch(() => undefined);
  if (options.verify) await verifyPackFiles(dir, manifest);
  const sessions: PackSessions = { textEncoder: await textEncoder };
  const tokenizerJson = JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8')) as object;
  return {
    kind: 'model',
    name: manifest.name,
    dir,
    manifest,
    sessions,
    stunet: { path: join(dir, models.stunet.file), options: {} },
    tokenizerJson,
  };
}

/**
 * The pack's STUNet session (with a style's weights when the pack came through the StyleAdapter), created
 * with `extra` options on top, such as an appended update step. Pooled by the store: the same source and
 * options give the same session. A file ONNX Runtime refuses is reported as MODEL_FILE_CORRUPT, by name.
 */
export async function loadStunet(
  pack: PackValue,
  tensors: TensorStore,
  extra: ModelOptions = {},
): Promise<ModelHandle> {
  const { path, options } = pack.stunet;
  return loadPackFile(dirname(path), basename(path), tensors, { ...options, ...extra });
}

/** Size and mtime of the manifest and every listed file: the cache key part that notices a re-export. */
export async function packFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['manifest.json']) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    parts.push(`${name}:${info?.size ?? 0}:${info?.mtimeMs ?? 0}`);
  }
  return parts.join('|');
}

/**
 * The session of a pack model loaded on demand (`t2i`, `ssr`), or undefined when the pack has no such
 * model. The store pools sessions by file, so every node asking for it shares one session.
 */
export async function packModel(
  pack: PackValue,
  role: OnDemandRole,
  tensors: TensorStore,
): Promise<ModelHandle | undefined> {
  const model = pack.manifest.models[role];
  return model ? loadPackFile(pack.dir, model.file, tensors) : undefined;
}
