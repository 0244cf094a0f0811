/**
 * What a model pack fixes about everything made with it, known from its manifest alone: the clip's frames
 * and resolution, the super-resolution size and the text embedding's shape. LoadModelPack declares these
 * as the `facts` of its `model` output before it loads anything (`NodeMemory.facts`), so the nodes that
 * sample with the pack can size their tensors, and the runtime can refuse an oversize run, before any node
 * runs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { manifestProblems, type PackManifest } from './manifest.js';
import { packSearchFolders } from './pack.js';

/** A pack's sizes, as its `model` output declares them (plain JSON). */
export interface PackFacts {
  /** Frames of every clip the STUNet makes. */
  readonly frames: number;
  /** [height, width] of the STUNet's (and the text-to-image model's) pictures. */
  readonly base: readonly [number, number];
  /** [height, width] after super-resolution, when the pack has a super-resolution model. */
  readonly ssr?: readonly [number, number];
  /** Tokens per prompt and the width of each token's embedding: an embedding is [1, tokens, width]. */
  readonly textTokens: number;
  readonly textWidth: number;
}

const positive = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;
const pair = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every(positive);

/** The facts of a manifest, or undefined when it does not state them all (its text width, say). */
export function factsOfManifest(manifest: PackManifest): PackFacts | undefined {
  const embedding = manifest.models.text_encoder.outputs?.[0]?.dims ?? [];
  const textTokens = positive(embedding[1]) ? embedding[1] : manifest.tokenizer.max_length;
  const textWidth = embedding[2];
  const facts = {
    frames: manifest.frames,
    base: manifest.resolution.base,
    ...(manifest.models.ssr && manifest.resolution.ssr ? { ssr: manifest.resolution.ssr } : {}),
    textTokens,
    textWidth,
  };
  return asPackFacts(facts);
}

/** A `model` input's facts as a {@link PackFacts}, or undefined when they are missing or not a pack's. */
export function asPackFacts(value: unknown): PackFacts | undefined {
  const f = value as Partial<PackFacts> | null | undefined;
  if (!f || typeof f !== 'object') return undefined;
  if (!positive(f.frames) || !pair(f.base) || !positive(f.textTokens) || !positive(f.textWidth)) return undefined;
  if (f.ssr !== undefined && !pair(f.ssr)) return undefined;
  return f as PackFacts;
}

// Manifest path → what it said at that size and mtime: a pack's facts are asked for on every run.
const cached = new Map<string, { stamp: string; facts: PackFacts | undefined }>();

/**
 * The facts of a pack by name, read synchronously from its manifest (memory declarations are synchronous;
 * a manifest is a few kB), or undefined when the pack is not found or its manifest is unusable: the node
 * then reports that when it runs.
 */
export function packFactsByName(name: string, folders = packSearchFolders()): PackFacts | undefined {
  const file = folders.map((folder) => join(folder, name, 'manifest.json')).find((path) => existsSync(path));
  if (!file) return undefined;
  try {
    const info = statSync(file);
    const stamp = `${info.size}:${info.mtimeMs}`;
    const hit = cached.get(file);
    if (hit?.stamp === stamp) return hit.facts;
    const manifest: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const facts = manifestProblems(manifest).length ? undefined : factsOfManifest(manifest as PackManifest);
    cached.set(file, { stamp, facts });
    return facts;
  } catch {
    return undefined;
  }
}
