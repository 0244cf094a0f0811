import { stat } from 'node:fs/promises';
import type { GraphValue, NodeContext } from '@kinegraph/core/sdk';
import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';
import type { Lut3d } from './cube.js';
import { parseCube } from './cube.js';

/**
 * **Apply 3D LUT** (`color-grade/lut3d`): grades a video with a `.cube` look-up table (film emulations,
 * show LUTs, camera-log conversions), trilinearly interpolated on the device. The file is read through
 * `context.files`, so it must sit inside the allowed folders (the workflow's folder, `inputs/`, `--allow`).
 */
export const lut3dNode = defineNode({
  type: 'color-grade/lut3d',
  version: 1,
  title: 'Apply 3D LUT',
  category: 'color',
  description: 'Grades a video with a 3D LUT from a .cube file (trilinear interpolation), on the device.',
  params: Type.Object({
    path: Type.String({
      default: 'look.cube',
      description: 'The .cube file, relative to the workflow\u2019s folder or inputs/.',
    }),
    mix: Type.Number({
      default: 1,
      minimum: 0,
      maximum: 1,
      description: 'How much of the LUT to apply: 0 returns the input, 1 the full look.',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  // The graded video, twice while the graph returns it, and the table of a LUT of up to 33³ entries (the
  // size most tools export). A larger table is checked against the run's budget once the file is parsed.
  memory({ inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const bytes = d.reduce((n, x) => n * x, 4);
    return { outputs: { video: { dims: [...d], dtype: 'float32' } }, scratchBytes: bytes + TABLE_ALLOWANCE + 64 };
  },
  // The cache key must change when the file does, not only when the path does.
  async fingerprint(params, { files }) {
    try {
      const real = await files.resolveRead(params.path);
      const info = await stat(real);
      return `${real}:${info.size}:${info.mtimeMs}`;
    } catch {
      return 'missing'; // run() reports the error with its code and hint
    }
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Apply 3D LUT needs an RGB video [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        { nodeId: context.nodeId, hint: 'Connect a video output (a sampler, Load Video, ...).' },
      );
    }
    const lut = await readLut(params.path, context);
    requireTableBudget(lut, tensor.dims, context);
    context.progress(0.5, { message: `${lut.title ?? params.path}: ${lut.size}³` });
    context.throwIfCancelled();
    const { graded } = await lut3dGraph.run(context, {
      video: tensor,
      table: { data: lut.table, dims: [lut.size ** 3, 3] },
      size: lut.size,
      domainMin: lut.domainMin,
      domainMax: lut.domainMax,
      mix: params.mix,
    });
    context.progress(1);
    return { video: { kind: 'video', tensor: graded, fps } };
  },
});

/**
 * Applies a 3D LUT with trilinear interpolation, as one ONNX graph. The table, its size and domain are
 * graph inputs, so one session serves every `.cube` file and every size.
 *
 * Inputs: `video` [B, 3, F, H, W] in [-1, 1]; `table` [N³, 3] (red fastest); `size` (N, a float scalar);
 * `domainMin`, `domainMax` [3]; `mix` scalar. Output: `graded` [B, 3, F, H, W] in [-1, 1].
 */
export const lut3dGraph = defineGraph('color-grade/lut3d', (g) => {
  const video = g.input('video', 'float32', ['B', 3, 'F', 'H', 'W']);
  const table = g.input('table', 'float32', ['M', 3]);
  const n = g.input('size', 'float32', []);
  const shape = (v: GraphValue) => g.reshape(v, [1, 3, 1, 1, 1]);
  const lo = shape(g.input('domainMin', 'float32', [3]));
  const hi = shape(g.input('domainMax', 'float32', [3]));
  const mix = g.input('mix', 'float32', []);

  const x = g.mul(g.add(video, 1), 0.5);
  // Position in table cells: 0 … N−1 across the domain, clamped so out-of-domain colours take the edge.
  const p = g.mul(g.clip(g.div(g.sub(x, lo), g.sub(hi, lo)), 0, 1), g.sub(n, 1));
  // The lower corner stops at N−2 so the upper one (i0 + 1) stays inside; p = N−1 then has weight 1 on it.
  const i0 = g.clip(g.op('Floor', [p])[0]!, 0, g.sub(n, 2));
  const frac = g.sub(p, i0);
  const [ir, ig, ib] = g.split(i0, 1, 3) as [GraphValue, GraphValue, GraphValue];
  // Weights as [B, 1, F, H, W, 1] so they broadcast over the gathered RGB on the last axis.
  const [fr, fg, fb] = g.split(frac, 1, 3).map((f) => g.unsqueeze(f, [-1])) as [GraphValue, GraphValue, GraphValue];
  const corner = (dr: number, dg: number, db: number) => {
    // Flat index r + g·N + b·N², exact in float32 for N ≤ 256 (N³ ≤ 2²⁴), then int64 for Gather.
    const index = g.add(g.add(g.add(ir, dr), g.mul(g.add(ig, dg), n)), g.mul(g.add(ib, db), g.mul(n, n)));
    return g.gather(table, g.cast(index, 'int64'), 0); // [B, 1, F, H, W, 3]
  };
  const lerp = (a: GraphValue, b: GraphValue, t: GraphValue) => g.add(a, g.mul(t, g.sub(b, a)));
  const alongR = (dg: number, db: number) => lerp(corner(0, dg, db), corner(1, dg, db), fr);
  const alongG = (db: number) => lerp(alongR(0, db), alongR(1, db), fg);
  const rgbLast = lerp(alongG(0), alongG(1), fb);
  const y = g.transpose(g.squeeze(rgbLast, [1]), [0, 4, 1, 2, 3]); // [B, F, H, W, 3] → [B, 3, F, H, W]
  const mixed = g.add(x, g.mul(mix, g.sub(y, x)));
  return { graded: g.sub(g.mul(g.clip(mixed, 0, 1), 2), 1) };
});

/** Bytes of the table of a 33³ LUT (the size most grading tools export), which the declaration includes. */
const TABLE_ALLOWANCE = 33 ** 3 * 3 * 4;

/**
 * A table larger than the declaration's allowance must fit what the run has left besides the graded video
 * and its copy (`MEMORY_BUDGET_EXCEEDED`, before it is uploaded).
 */
function requireTableBudget(
  lut: Lut3d,
  video: readonly number[],
  context: Pick<NodeContext, 'nodeId' | 'budget'>,
): void {
  const table = lut.table.byteLength;
  if (!context.budget || table <= TABLE_ALLOWANCE) return;
  const need = 2 * video.reduce((n, x) => n * x, 4) + table;
  if (need <= context.budget.available()) return;
  throw new KinegraphError(
    'MEMORY_BUDGET_EXCEEDED',
    `The ${lut.size}\u00b3 LUT's table (${Math.ceil(table / 1024 ** 2)} MB) and the graded video do not fit what the run's memory budget has left.`,
    {
      nodeId: context.nodeId,
      hint: 'Use a smaller LUT (33³ is the usual size), or give the run a larger memory budget.',
    },
  );
}

/** Reads and parses the node's `.cube` file; a broken file's error names the node. */
async function readLut(path: string, context: Pick<NodeContext, 'nodeId' | 'files'>): Promise<Lut3d> {
  const bytes = await context.files.read(path);
  try {
    return parseCube(new TextDecoder().decode(bytes), path);
  } catch (error) {
    // The parser does not know the node; the user needs to know which node's file is broken.
    if (error instanceof KinegraphError)
      throw new KinegraphError(error.code, error.message, {
        nodeId: context.nodeId,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    throw error;
  }
}
