import type { TensorHandle } from '../tensor/types.js';

/**
 * A port type: what flows along an edge. Two ports connect when their types are equal or the input's type
 * lists the output's type in `accepts`.
 */
export interface PortTypeDefinition {
  /** Lowercase name (`video`, or a plugin's own `acme/lut`). */
  readonly name: string;
  /** What a value of this type is, for docs and the editor's tooltips. */
  readonly description: string;
  /** Colour of the port and its edges in the editor (CSS colour). */
  readonly color: string;
  /** Other port types whose values an input of this type also takes. */
  readonly accepts?: readonly string[];
}

/** The port types core registers before any plugin loads. */
export const BUILTIN_PORT_TYPES: readonly PortTypeDefinition[] = [
  { name: 'text', description: 'A string, such as a prompt.', color: '#9ccc65' },
  { name: 'embedding', description: 'Text embeddings [B, L, D] from a text encoder.', color: '#ffb74d' },
  { name: 'image', description: 'An image: float32 tensor [B, 3, H, W] in [-1, 1].', color: '#64b5f6' },
  {
    name: 'video',
    description: 'A video: float32 tensor [B, 3, F, H, W] in [-1, 1], with its frame rate.',
    color: '#ba68c8',
  },
  {
    name: 'mask',
    description: 'A mask: float32 tensor [B, 1, F, H, W] (or [B, 1, H, W]) in [0, 1]; 1 marks the region.',
    color: '#e0e0e0',
  },
  { name: 'model', description: 'A loaded model pack: its manifest and model sessions.', color: '#ef5350' },
  {
    name: 'conditioning',
    description: 'What the sampler is conditioned on beyond text: a known video and a keep-mask.',
    color: '#4db6ac',
  },
  { name: 'style', description: 'Style weights that a StyleAdapter blends into a model.', color: '#f06292' },
  {
    name: 'latent',
    description: 'A tensor in a model\u2019s working space, not meant to be viewed directly.',
    color: '#ff8a65',
  },
];

/** Value carried by an `image` port. */
export interface ImageValue {
  readonly kind: 'image';
  /** float32 [B, 3, H, W] in [-1, 1]. */
  readonly tensor: TensorHandle;
}

/** Value carried by a `video` port. */
export interface VideoValue {
  readonly kind: 'video';
  /** float32 [B, 3, F, H, W] in [-1, 1]. */
  readonly tensor: TensorHandle;
  readonly fps: number;
}

/** Value carried by a `mask` port. */
export interface MaskValue {
  readonly kind: 'mask';
  /** float32 [B, 1, F, H, W] or [B, 1, H, W] in [0, 1]; 1 marks the region. */
  readonly tensor: TensorHandle;
}

/** Value carried by an `embedding` port. */
export interface EmbeddingValue {
  readonly kind: 'embedding';
  /** float32 [B, L, D]. */
  readonly tensor: TensorHandle;
  /** The text it encodes, for previews and logs. */
  readonly text: string;
}

/** Value carried by a `conditioning` port: the known video and where it is known. */
export interface ConditioningValue {
  readonly kind: 'conditioning';
  /** What the conditioning is for (`image-to-video`, `inpaint`, `cinemagraph`, ...). */
  readonly mode: string;
  /** float32 [B, 3, F, H, W] in [-1, 1]: the known content. */
  readonly video: TensorHandle;
  /** float32 [B, 1, F, H, W]: 1 where `video` is known and kept. */
  readonly mask: TensorHandle;
}

/** Value carried by a `latent` port. */
export interface LatentValue {
  readonly kind: 'latent';
  readonly tensor: TensorHandle;
}

/** Value carried by a `style` port. */
export interface StyleValue {
  readonly kind: 'style';
  readonly name: string;
  /** Initializer name → style tensor data location (file) understood by the model's adapter. */
  readonly source: string;
}

/** Value carried by a `model` port. Its shape belongs to the node library that makes it. */
export interface ModelValue {
  readonly kind: 'model';
  readonly name: string;
  readonly [key: string]: unknown;
}

/**
 * Maps a port type name to the TypeScript type of its values. Plugins that register a port type add to it
 * with declaration merging:
 *
 * ```ts
 * declare module '@kinegraph/core/sdk' { interface PortValueMap { 'acme/lut': LutValue } }
 * ```
 */
export interface PortValueMap {
  text: string;
  embedding: EmbeddingValue;
  image: ImageValue;
  video: VideoValue;
  mask: MaskValue;
  model: ModelValue;
  conditioning: ConditioningValue;
  style: StyleValue;
  latent: LatentValue;
}

/** The value type of a port type name (unknown for types no declaration names). */
export type PortValue<T extends string> = T extends keyof PortValueMap ? PortValueMap[T] : unknown;

/** Identity helper that types a port type definition. */
export function definePortType(definition: PortTypeDefinition): PortTypeDefinition {
  return definition;
}
