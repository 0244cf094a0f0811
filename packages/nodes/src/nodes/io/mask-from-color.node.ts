import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/** `#rrggbb` (case-insensitive). */
const HEX_COLOR = '^#[0-9A-Fa-f]{6}$';

/**
 * The colour-distance graph: d = max over RGB of |x − target| / 2 (0–1 colour units, as in 0–255 / 255),
 * mask = clip(1 − (d − tolerance) · sharpness, 0, 1), flipped when invert = 1. `x` and `target` take any
 * rank (video 5, image 4) and colour, tolerance and softness are inputs, so every setting shares one session.
 */
const colorDistanceGraph = defineGraph('kinegraph-mask-from-color', (g) => {
  const x = g.input('x', 'float32');
  const target = g.input('target', 'float32');
  const tolerance = g.input('tolerance', 'float32', []);
  const sharpness = g.input('sharpness', 'float32', []);
  const invert = g.input('invert', 'float32', []);
  const diff = g.abs(g.sub(x, target));
  const [distance] = g.op('ReduceMax', [diff], { axes: { ints: [1] }, keepdims: { i: 1 } });
  const soft = g.clip(g.sub(1, g.mul(g.sub(g.mul(distance!, 0.5), tolerance), sharpness)), 0, 1);
  // invert ∈ {0, 1}: m + invert · (1 − 2m).
  return { y: g.add(soft, g.mul(invert, g.sub(1, g.mul(soft, 2)))) };
});

/**
 * **Mask From Color** (`kinegraph/mask-from-color`): a `mask` of the pixels close to a colour (a green
 * screen, a painted marker region) in a video [B, 1, F, H, W] or image [B, 1, H, W]. Computed on the
 * device as a small ONNX graph: no pixels are read into JS.
 *
 * Distance is the largest per-channel difference in 0–1 colour units; pixels within `tolerance` are 1.
 * `softness` adds a linear ramp beyond the tolerance (0: hard edge).
 */
export const maskFromColorNode = defineNode({
  type: 'kinegraph/mask-from-color',
  version: 1,
  title: 'Mask From Color',
  category: 'io/mask',
  description: 'Marks the pixels of a video or image close to a colour (e.g. a green screen), computed on the device.',
  params: Type.Object({
    color: Type.String({ default: '#00ff00', pattern: HEX_COLOR, description: 'Target colour as #rrggbb.' }),
    tolerance: Type.Number({
      default: 0.1,
      minimum: 0,
      maximum: 1,
      description: 'Largest per-channel difference (0–1) still counted as the colour.',
    }),
    softness: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 1,
      description: 'Width (0–1 colour units) of a soft falloff beyond the tolerance; 0 is a hard edge.',
    }),
    invert: Type.Boolean({ default: false, description: 'Mark everything except the colour.' }),
  }),
  inputs: {
    video: { type: 'video', optional: true, description: 'Video to key (connect this or image).' },
    image: { type: 'image', optional: true, description: 'Image to key (used when no video is connected).' },
  },
  outputs: { mask: { type: 'mask' } },
  // One channel of the source's size, and its copy out of the ONNX Runtime session.
  memory({ inputs }) {
    const d = inputs.video ?? inputs.image;
    if (!d) return undefined;
    const dims = [d[0]!, 1, ...d.slice(2)];
    const bytes = dims.reduce((n, x) => n * x, 4);
    return { outputs: { mask: { dims, dtype: 'float32' } }, scratchBytes: bytes };
  },
  async run({ params, inputs, context }) {
    const source = inputs.video?.tensor ?? inputs.image?.tensor;
    if (!source) {
      throw new KinegraphError('INVALID_INPUT', 'Mask From Color needs a video or an image.', {
        nodeId: context.nodeId,
        hint: 'Connect the `video` or the `image` input.',
      });
    }
    const rank = source.dims.length;
    const { y } = await colorDistanceGraph.run(context, {
      x: source,
      target: { data: hexToSigned(params.color), dims: [1, 3, ...Array<number>(rank - 2).fill(1)] },
      tolerance: params.tolerance,
      // A hard edge is a ramp too steep to fall between two 8-bit levels (1/255 apart).
      sharpness: 1 / Math.max(params.softness, 1e-4),
      invert: params.invert ? 1 : 0,
    });
    return { mask: { kind: 'mask' as const, tensor: y } };
  },
});

/** `#rrggbb` → [r, g, b] in the tensors' [-1, 1] range. */
function hexToSigned(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b / 127.5 - 1) as [number, number, number];
}
