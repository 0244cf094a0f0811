/**
 * Captions ↔ attributes, in the renderer's grammar (training/data.py caption_for):
 *   "a red circle moving left on a black background"
 *   "a red square moving up and a blue circle growing on a navy background"
 * and the held-out / seen prompt lists from a pack manifest.
 */
import { readFileSync } from 'node:fs';
import {
  BACKGROUNDS,
  type BackgroundName,
  COLOURS,
  type ColourName,
  MOTIONS,
  type MotionName,
  SHAPES,
  type ShapeName,
} from './analyze.js';

export interface ObjectAttributes {
  readonly shape: ShapeName;
  readonly colour: ColourName;
  readonly motion: MotionName;
}

export interface CaptionAttributes {
  readonly objects: readonly ObjectAttributes[];
  readonly background: BackgroundName;
}

/** A single-object prompt with its attributes and whether the pack held its combination out of training. */
export interface Prompt extends ObjectAttributes {
  readonly background: BackgroundName;
  readonly caption: string;
  readonly heldOut: boolean;
}

export function motionPhrase(motion: MotionName): string {
  if (motion === 'still') return 'standing still';
  if (motion === 'growing' || motion === 'shrinking') return motion;
  return `moving ${motion}`;
}

export function captionFor(objects: readonly ObjectAttributes[], background: BackgroundName): string {
  return `${objects.map((o) => `a ${o.colour} ${o.shape} ${motionPhrase(o.motion)}`).join(' and ')} on a ${background} background`;
}

const isColour = (w: string | undefined): w is ColourName => w !== undefined && Object.hasOwn(COLOURS, w);
const isShape = (w: string | undefined): w is ShapeName => w !== undefined && (SHAPES as readonly string[]).includes(w);
const isBackground = (w: string | undefined): w is BackgroundName => w !== undefined && Object.hasOwn(BACKGROUNDS, w);

/** Parses a caption of the renderer's grammar; null for anything else (it is not ours to score). */
export function parseCaption(text: string): CaptionAttributes | null {
  const words = text.trim().toLowerCase().split(/\s+/);
  const objects: ObjectAttributes[] = [];
  let i = 0;
  for (;;) {
    const [a, colour, shape] = [words[i], words[i + 1], words[i + 2]];
    if (a !== 'a' || !isColour(colour) || !isShape(shape)) return null;
    i += 3;
    let motion: MotionName;
    const w = words[i];
    if (w === 'moving' && (['left', 'right', 'up', 'down'] as const).some((d) => d === words[i + 1])) {
      motion = words[i + 1] as MotionName;
      i += 2;
    } else if (w === 'standing' && words[i + 1] === 'still') {
      motion = 'still';
      i += 2;
    } else if (w === 'growing' || w === 'shrinking') {
      motion = w;
      i += 1;
    } else return null;
    objects.push({ colour, shape, motion });
    if (words[i] === 'and') {
      i++;
      continue;
    }
    break;
  }
  const tail = words.slice(i);
  if (tail.length !== 4 || tail[0] !== 'on' || tail[1] !== 'a' || !isBackground(tail[2]) || tail[3] !== 'background')
    return null;
  return { objects, background: tail[2] };
}

/** The parts of a pack manifest this module reads. */
export interface HeldOutManifest {
  readonly held_out: {
    readonly rules: ReadonlyArray<Partial<Record<'shape' | 'colour' | 'motion' | 'background', string>>>;
    readonly combinations: ReadonlyArray<readonly [string, string, string, string]>;
  };
  readonly attributes: {
    readonly shape: readonly string[];
    readonly colour: readonly string[];
    readonly motion: readonly string[];
    readonly background: readonly string[];
  };
}

export function readHeldOutManifest(path: string): HeldOutManifest {
  const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<HeldOutManifest>;
  if (!m.held_out?.rules || !m.held_out.combinations || !m.attributes)
    throw new Error(`${path} has no held_out rules/combinations or attributes`);
  return m as HeldOutManifest;
}

/** Whether a combination matches any held-out rule (a rule names some attributes; the rest match anything). */
export function isHeldOut(manifest: HeldOutManifest, o: ObjectAttributes, background: BackgroundName): boolean {
  const combo: Record<string, string> = { shape: o.shape, colour: o.colour, motion: o.motion, background };
  return manifest.held_out.rules.some((rule) =>
    Object.entries(rule).every(([k, v]) => v === undefined || v === null || combo[k] === v),
  );
}

/** Every single-object combination of the manifest's attributes, held-out ones flagged. */
export function allPrompts(manifest: HeldOutManifest): Prompt[] {
  const out: Prompt[] = [];
  const a = manifest.attributes;
  for (const shape of a.shape)
    for (const colour of a.colour)
      for (const motion of a.motion)
        for (const background of a.background) {
          if (
            !isShape(shape) ||
            !isColour(colour) ||
            !(MOTIONS as readonly string[]).includes(motion) ||
            !isBackground(background)
          ) {
            throw new Error(
              `manifest attribute outside the renderer's vocabulary: ${shape} ${colour} ${motion} ${background}`,
            );
          }
          const o = { shape, colour, motion: motion as MotionName };
          out.push({
            ...o,
            background,
            caption: captionFor([o], background),
            heldOut: isHeldOut(manifest, o, background),
          });
        }
  return out;
}

/**
 * `n` prompts of one split, chosen so every shape, colour and motion turns up about equally often: a
 * deterministic shuffle (seeded) then a greedy pick of the prompt whose attributes have been used least.
 */
export function selectPrompts(manifest: HeldOutManifest, split: 'held-out' | 'seen', n: number, seed = 1): Prompt[] {
  return balancedPick(
    allPrompts(manifest).filter((p) => p.heldOut === (split === 'held-out')),
    n,
    seed,
  );
}

/** `n` of `prompts`: a deterministic shuffle, then greedily the prompt whose attributes were used least. */
function balancedPick<P extends Prompt>(prompts: readonly P[], n: number, seed: number): P[] {
  const pool = shuffle(prompts.slice(), seed);
  const used = new Map<string, number>();
  const cost = (p: Prompt) =>
    (used.get(`s:${p.shape}`) ?? 0) +
    (used.get(`c:${p.colour}`) ?? 0) +
    (used.get(`m:${p.motion}`) ?? 0) +
    (used.get(`b:${p.background}`) ?? 0);
  const out: P[] = [];
  while (out.length < n && pool.length) {
    let bi = 0;
    for (let i = 1; i < pool.length; i++) if (cost(pool[i]!) < cost(pool[bi]!)) bi = i;
    const [p] = pool.splice(bi, 1);
    out.push(p!);
    for (const k of [`s:${p!.shape}`, `c:${p!.colour}`, `m:${p!.motion}`, `b:${p!.background}`])
      used.set(k, (used.get(k) ?? 0) + 1);
  }
  return out;
}

function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32: deterministic across platforms, plenty for picking prompts.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The manifest's held-out rule as words, e.g. "every yellow triangle", "every cyan shape moving down". */
export function ruleText(rule: HeldOutManifest['held_out']['rules'][number]): string {
  const parts = ['every'];
  if (rule.colour) parts.push(rule.colour);
  parts.push(rule.shape ?? 'shape');
  if (rule.motion) parts.push(motionPhrase(rule.motion as MotionName));
  if (rule.background) parts.push(`on a ${rule.background} background`);
  return parts.join(' ');
}

/** A held-out prompt with the rule that holds it out (the first matching one, in the manifest's order). */
export interface RulePrompt extends Prompt {
  readonly rule: string;
}

/**
 * Held-out prompts rule by rule: up to `perRule` combinations of every held-out rule (all of them where the
 * rule has fewer), each rule's chosen like {@link selectPrompts} so its shapes, colours, motions and
 * backgrounds vary. A combination matching two rules belongs to the first. So every way of being held out is
 * measured, not only the rule with the most combinations (every yellow triangle is 21 of the 49).
 */
export function selectHeldOutPerRule(manifest: HeldOutManifest, perRule: number, seed = 1): RulePrompt[] {
  const held = allPrompts(manifest).filter((p) => p.heldOut);
  const taken = new Set<string>();
  const out: RulePrompt[] = [];
  for (const rule of manifest.held_out.rules) {
    const text = ruleText(rule);
    const mine = held.filter(
      (p) =>
        !taken.has(p.caption) &&
        Object.entries(rule).every(
          ([k, v]) => v === undefined || v === null || (p as unknown as Record<string, string>)[k] === v,
        ),
    );
    for (const p of balancedPick(mine, perRule, seed)) {
      taken.add(p.caption);
      out.push({ ...p, rule: text });
    }
  }
  return out;
}
