/**
 * Attribute reader for generated clips: plain image analysis, no learned classifier, so a wrong figure can
 * always be traced to a pixel. Everything works on {@link Clip}s (float RGB in [0, 1]); adapters turn RGBA
 * frames, uint8 RGB buffers and runtime video tensors ([B, 3, F, H, W] in [-1, 1]) into one.
 *
 * Pipeline per clip (see README.md for the definitions and the ground-truth figures):
 *   background  median of the border pixels of every frame, per channel
 *   object      pixels farther than FG_THRESHOLD from the background; largest 8-connected component per frame
 *   colour      the palette colour that best explains the object pixels as mixes of background and colour
 *               (anti-aliased edges are such mixes, so edges vote for the right colour instead of diluting it)
 *   coverage    per-pixel alpha of that colour over the background (soft mask), giving an exact area and
 *               centroid even for 2-pixel objects
 *   motion      linear fit of the centroid track (translation) and of log area (growth)
 *   shape       least-squares fit of circle / square / triangle coverage templates at the measured centroid
 *               and area; the bounding-box fill ratio is reported alongside as a diagnostic
 *   per frame   each frame's own best-fitting shape (shape constancy) and its soft IoU with the best
 *               template (edge sharpness)
 *   temporal    share of frame transitions where the object stays the same object; background flicker
 */

export type ShapeName = 'circle' | 'square' | 'triangle';
export type ColourName = 'red' | 'green' | 'blue' | 'yellow' | 'magenta' | 'cyan' | 'white';
export type MotionName = 'left' | 'right' | 'up' | 'down' | 'growing' | 'shrinking' | 'still';
export type BackgroundName = 'black' | 'gray' | 'navy';
export type Rgb = readonly [number, number, number];

export const SHAPES: readonly ShapeName[] = ['circle', 'square', 'triangle'];
export const MOTIONS: readonly MotionName[] = ['left', 'right', 'up', 'down', 'growing', 'shrinking', 'still'];

/** The renderer's object palette (training/data.py COLOURS), in [0, 1]. */
export const COLOURS: Readonly<Record<ColourName, Rgb>> = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0.15, 0.35, 1],
  yellow: [1, 1, 0],
  magenta: [1, 0, 1],
  cyan: [0, 1, 1],
  white: [1, 1, 1],
};

/** The renderer's backgrounds (training/data.py BACKGROUNDS), in [0, 1]. */
export const BACKGROUNDS: Readonly<Record<BackgroundName, Rgb>> = {
  black: [0, 0, 0],
  gray: [0.5, 0.5, 0.5],
  navy: [0, 0, 0.5],
};

/**
 * A pixel is foreground when its RGB distance from the background exceeds this. The closest
 * colour/background pair of the palette (blue on navy, blue on gray) is 0.63 apart, so 0.25 keeps every
 * pixel at least ~40% covered, and stays above the few-percent noise a half-trained model leaves behind.
 */
export const FG_THRESHOLD = 0.25;

/** Translation over the clip (px, 32×32 frames) that counts as one unit of motion evidence: the renderer's
 * shortest travel is 0.25 of the frame = 8 px. */
const TRANSLATION_UNIT = 8;
/** |ln(area ratio)| that counts as one unit of growth evidence: the smallest growth is 1.8× in size, 3.24× in area. */
const GROWTH_UNIT = Math.log(1.8 * 1.8);
/** Below this much evidence of either kind (in units above), the object is standing still. */
const STILL_BELOW = 0.35;

/**
 * Validity gates, so noise never earns chance-level credit (a blob of noise would otherwise be read as "a
 * <colour> <shape> moving <somewhere>" and be right one time in seven for free). Calibrated on ground
 * truth: true renders with σ = 0.1 Gaussian noise have colour residual ≤ 0.03 and shape misfit ≤ 0.05,
 * 3×3-blurred ones misfit ≤ 0.1; the speckle an untrained STUNet produces has residual 0.05–0.08 and misfit
 * 0.48–0.7, uniform noise residual ≈ 0.21 and misfit ≈ 0.9.
 */
/** Mean squared unmixing residual above which no palette colour explains the "object": nothing was found. */
export const COLOUR_GATE = 0.08;
/** Least template misfit above which the "object" is no compact shape at all: nothing was found. */
export const OBJECT_GATE = 0.35;

/** An RGBA frame, as a canvas or PNG decoder gives it. */
export interface RgbaFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray | Uint8Array;
}

/** A clip as float RGB in [0, 1], laid out [frame][y][x][channel]. */
export interface Clip {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly rgb: Float32Array;
}

// ---------------------------------------------------------------------------------------------------------
// Adapters

export function clipFromRgba(frames: readonly RgbaFrame[]): Clip {
  const first = frames[0];
  if (!first) throw new Error('clipFromRgba: no frames');
  const { width, height } = first;
  const rgb = new Float32Array(frames.length * height * width * 3);
  frames.forEach((frame, f) => {
    if (frame.width !== width || frame.height !== height)
      throw new Error(`clipFromRgba: frame ${f} is ${frame.width}×${frame.height}, not ${width}×${height}`);
    const base = f * height * width * 3;
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) rgb[base + p * 3 + c] = frame.data[p * 4 + c]! / 255;
    }
  });
  return { frames: frames.length, height, width, rgb };
}

export function clipToRgba(clip: Clip): RgbaFrame[] {
  const out: RgbaFrame[] = [];
  const n = clip.height * clip.width;
  for (let f = 0; f < clip.frames; f++) {
    const data = new Uint8ClampedArray(n * 4);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) data[p * 4 + c] = Math.round(clip.rgb[(f * n + p) * 3 + c]! * 255);
      data[p * 4 + 3] = 255;
    }
    out.push({ width: clip.width, height: clip.height, data });
  }
  return out;
}

/** uint8 RGB laid out [frame][y][x][rgb] (the fixture format) → clip. */
export function clipFromRgb8(bytes: Uint8Array, frames: number, height: number, width: number, offset = 0): Clip {
  const n = frames * height * width * 3;
  if (offset + n > bytes.length)
    throw new Error(`clipFromRgb8: need ${n} bytes at ${offset}, have ${bytes.length - offset}`);
  const rgb = new Float32Array(n);
  for (let i = 0; i < n; i++) rgb[i] = bytes[offset + i]! / 255;
  return { frames, height, width, rgb };
}

/** One clip of a runtime video tensor [B, 3, F, H, W] in [-1, 1] (clamped, as a viewer would show it). */
export function clipFromVideoTensor(data: ArrayLike<number>, dims: readonly number[], batchIndex = 0): Clip {
  const [b, c, frames, height, width] = dims as [number, number, number, number, number];
  if (dims.length !== 5 || c !== 3)
    throw new Error(`clipFromVideoTensor: expected [B, 3, F, H, W], got [${dims.join(', ')}]`);
  if (batchIndex >= b) throw new Error(`clipFromVideoTensor: batch index ${batchIndex} of ${b}`);
  const plane = height * width;
  const rgb = new Float32Array(frames * plane * 3);
  for (let ch = 0; ch < 3; ch++) {
    for (let f = 0; f < frames; f++) {
      const src = ((batchIndex * 3 + ch) * frames + f) * plane;
      for (let p = 0; p < plane; p++) rgb[(f * plane + p) * 3 + ch] = toUnit(data[src + p]!);
    }
  }
  return { frames, height, width, rgb };
}

/** An image tensor [B, 3, H, W] in [-1, 1] → a one-frame clip. */
export function clipFromImageTensor(data: ArrayLike<number>, dims: readonly number[], batchIndex = 0): Clip {
  const [b, c, h, w] = dims as [number, number, number, number];
  if (dims.length !== 4 || c !== 3)
    throw new Error(`clipFromImageTensor: expected [B, 3, H, W], got [${dims.join(', ')}]`);
  return clipFromVideoTensor(data, [b, 3, 1, h, w], batchIndex);
}

/** A clip → the planar [1, 3, F, H, W] float32 layout in [-1, 1] the runtime's video port carries. */
export function clipToVideoTensor(clip: Clip): Float32Array {
  const plane = clip.height * clip.width;
  const out = new Float32Array(3 * clip.frames * plane);
  for (let ch = 0; ch < 3; ch++) {
    for (let f = 0; f < clip.frames; f++) {
      for (let p = 0; p < plane; p++)
        out[(ch * clip.frames + f) * plane + p] = clip.rgb[(f * plane + p) * 3 + ch]! * 2 - 1;
    }
  }
  return out;
}

/** One frame of a clip as its own one-frame clip. */
export function frameOf(clip: Clip, f: number): Clip {
  const n = clip.height * clip.width * 3;
  return { frames: 1, height: clip.height, width: clip.width, rgb: clip.rgb.slice(f * n, (f + 1) * n) };
}

function toUnit(v: number): number {
  const u = (v + 1) / 2;
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

// ---------------------------------------------------------------------------------------------------------
// Background and segmentation

/** Per-channel median of the border pixels of every frame: objects rarely cover much of the border. */
export function estimateBackground(clip: Clip): Rgb {
  const { frames, height: h, width: w } = clip;
  const border: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if (y === 0 || x === 0 || y === h - 1 || x === w - 1) border.push(y * w + x);
  const out: number[] = [];
  for (let c = 0; c < 3; c++) {
    const values = new Float32Array(frames * border.length);
    let i = 0;
    for (let f = 0; f < frames; f++) for (const p of border) values[i++] = clip.rgb[(f * h * w + p) * 3 + c]!;
    out.push(median(values));
  }
  return [out[0]!, out[1]!, out[2]!];
}

export function nearestBackground(rgb: Rgb): BackgroundName {
  return nearestKey(BACKGROUNDS, rgb);
}

/** Foreground mask of one frame: 1 where the pixel is farther than `threshold` from `bg`. */
export function foregroundMask(clip: Clip, f: number, bg: Rgb, threshold = FG_THRESHOLD): Uint8Array {
  const n = clip.height * clip.width;
  const mask = new Uint8Array(n);
  const t2 = threshold * threshold;
  for (let p = 0; p < n; p++) {
    const i = (f * n + p) * 3;
    const d0 = clip.rgb[i]! - bg[0];
    const d1 = clip.rgb[i + 1]! - bg[1];
    const d2 = clip.rgb[i + 2]! - bg[2];
    if (d0 * d0 + d1 * d1 + d2 * d2 > t2) mask[p] = 1;
  }
  return mask;
}

/** The largest 8-connected component of a mask (ties: the first found in raster order); all zeros if empty. */
export function largestComponent(mask: Uint8Array, width: number, height: number): Uint8Array {
  const label = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  let best = 0;
  let bestSize = 0;
  let next = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || label[start]) continue;
    next++;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    label[start] = next;
    while (top > 0) {
      const p = stack[--top]!;
      size++;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !label[q]) {
            label[q] = next;
            stack[top++] = q;
          }
        }
      }
    }
    if (size > bestSize) {
      bestSize = size;
      best = next;
    }
  }
  const out = new Uint8Array(mask.length);
  if (best) for (let p = 0; p < mask.length; p++) if (label[p] === best) out[p] = 1;
  return out;
}

/** 3×3 dilation: the anti-aliased rim just below the threshold still carries part of the object's area. */
export function dilate(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(height - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(width - 1, x + 1); xx++) out[yy * width + xx] = 1;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Colour

/** Coverage of colour `c` over background `bg` that best explains pixel `p` (least squares, clamped to [0, 1]). */
export function unmix(p: Rgb, bg: Rgb, c: Rgb): { alpha: number; residual: number } {
  const v0 = c[0] - bg[0];
  const v1 = c[1] - bg[1];
  const v2 = c[2] - bg[2];
  const q0 = p[0] - bg[0];
  const q1 = p[1] - bg[1];
  const q2 = p[2] - bg[2];
  const vv = v0 * v0 + v1 * v1 + v2 * v2;
  let alpha = vv > 1e-9 ? (q0 * v0 + q1 * v1 + q2 * v2) / vv : 0;
  alpha = alpha < 0 ? 0 : alpha > 1 ? 1 : alpha;
  const r0 = q0 - alpha * v0;
  const r1 = q1 - alpha * v1;
  const r2 = q2 - alpha * v2;
  return { alpha, residual: r0 * r0 + r1 * r1 + r2 * r2 };
}

/**
 * The palette colour that best explains `pixels` as background/colour mixes: the one with the least summed
 * unmixing residual. Returns every colour's mean residual too (how clear-cut the call was).
 */
export function classifyColour(
  pixels: readonly Rgb[],
  bg: Rgb,
): { colour: ColourName | null; residuals: Record<ColourName, number> } {
  const residuals = {} as Record<ColourName, number>;
  let colour: ColourName | null = null;
  let best = Infinity;
  for (const name of Object.keys(COLOURS) as ColourName[]) {
    let sum = 0;
    for (const p of pixels) sum += unmix(p, bg, COLOURS[name]).residual;
    const mean = pixels.length ? sum / pixels.length : NaN;
    residuals[name] = mean;
    if (pixels.length && mean < best) {
      best = mean;
      colour = name;
    }
  }
  return { colour, residuals };
}

// ---------------------------------------------------------------------------------------------------------
// Per-frame measurements

/** What one frame says about the object. */
export interface FrameMeasure {
  /** Pixels in the object's component (hard mask). */
  readonly pixels: number;
  /** Soft area: summed coverage (alpha) over the dilated component, in pixels. */
  readonly area: number;
  /** Coverage-weighted centroid (pixel units, pixel centres at +0.5). */
  readonly cx: number;
  readonly cy: number;
  /** Hard-mask bounding box, inclusive pixel indices. */
  readonly bbox: readonly [number, number, number, number];
  /** The dilated component reaches the frame edge: the object may be cut off. */
  readonly touchesBorder: boolean;
  /** This frame's own colour call (temporal consistency compares them). */
  readonly colour: ColourName | null;
  /** Dilated component, for template fitting and the flicker metric. */
  readonly region: Uint8Array;
  /** Coverage per pixel (0 outside `region`). */
  readonly alpha: Float32Array;
}

/** A frame counts as showing the object when its component has at least this many pixels… */
const MIN_PIXELS = 3;
/** …and this much soft area (px²). The renderer's smallest object covers 11 px² at 32×32; a few pixels of
 * speckle that differ from the background, but not towards any one colour, have almost none. */
export const MIN_AREA = 4;

function pixelAt(clip: Clip, f: number, p: number): Rgb {
  const i = (f * clip.height * clip.width + p) * 3;
  return [clip.rgb[i]!, clip.rgb[i + 1]!, clip.rgb[i + 2]!];
}

function measureFrame(clip: Clip, f: number, bg: Rgb, colour: ColourName, component: Uint8Array): FrameMeasure | null {
  const { width: w, height: h } = clip;
  let pixels = 0;
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  const own: Rgb[] = [];
  for (let p = 0; p < component.length; p++) {
    if (!component[p]) continue;
    pixels++;
    const x = p % w;
    const y = (p - x) / w;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
    own.push(pixelAt(clip, f, p));
  }
  if (pixels < MIN_PIXELS) return null;
  const region = dilate(component, w, h);
  const alpha = new Float32Array(w * h);
  let area = 0;
  let sx = 0;
  let sy = 0;
  let touchesBorder = false;
  for (let p = 0; p < region.length; p++) {
    if (!region[p]) continue;
    const x = p % w;
    const y = (p - x) / w;
    if (x === 0 || y === 0 || x === w - 1 || y === h - 1) touchesBorder = true;
    const a = unmix(pixelAt(clip, f, p), bg, COLOURS[colour]).alpha;
    alpha[p] = a;
    area += a;
    sx += a * (x + 0.5);
    sy += a * (y + 0.5);
  }
  if (area < MIN_AREA) return null;
  return {
    pixels,
    area,
    cx: sx / area,
    cy: sy / area,
    bbox: [x0, y0, x1, y1],
    touchesBorder,
    colour: classifyColour(own, bg).colour,
    region,
    alpha,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Shape: coverage templates

/**
 * Signed distance (pixels) to a shape's boundary, negative inside, for a shape of "radius" r centred at
 * (cx, cy): the same geometry as the renderer (circle radius r; square half-side 0.9 r; upward equilateral
 * triangle with inradius 0.75 r, whose centroid is the centre).
 */
export function shapeDistance(shape: ShapeName, px: number, py: number, cx: number, cy: number, r: number): number {
  const dx = px - cx;
  const dy = py - cy;
  if (shape === 'circle') return Math.hypot(dx, dy) - r;
  if (shape === 'square') return Math.max(Math.abs(dx), Math.abs(dy)) - 0.9 * r;
  const ri = 0.75 * r;
  const s = Math.sqrt(3) / 2;
  return Math.max(dy - ri, -0.5 * dy + s * dx - ri, -0.5 * dy - s * dx - ri);
}

/** Area of a shape of radius r, in pixels² (for r from a measured area). */
export function shapeArea(shape: ShapeName, r: number): number {
  if (shape === 'circle') return Math.PI * r * r;
  if (shape === 'square') return (1.8 * r) ** 2;
  const ri = 0.75 * r; // equilateral triangle: area = 3√3 · inradius²
  return 3 * Math.sqrt(3) * ri * ri;
}

/**
 * Coverage of one pixel by a shape: the mean over its 2×2 sub-pixels of a 1-sub-pixel linear ramp across the
 * boundary. That is how the renderer anti-aliases at 64×64 before box-downsampling to 32×32, so a true
 * render matches its own template almost exactly.
 */
function templateCoverage(shape: ShapeName, x: number, y: number, cx: number, cy: number, r: number): number {
  let sum = 0;
  for (const oy of [0.25, 0.75]) {
    for (const ox of [0.25, 0.75]) {
      const d = shapeDistance(shape, x + ox, y + oy, cx, cy, r) * 2; // in half-pixel (64×64) units
      sum += Math.min(1, Math.max(0, 0.5 - d));
    }
  }
  return sum / 4;
}

/** Least-squares misfit of each shape template to one frame's coverage (best over a few sizes). */
export function shapeMisfit(m: FrameMeasure, width: number, height: number): Record<ShapeName, number> {
  return templateFit(m, width, height).misfit;
}

/**
 * Each shape template against one frame's coverage, at the measured centroid and area (size searched
 * ±10%): the least-squares misfit (normalised by area) and the soft intersection-over-union
 * Σ min(α, T) / Σ max(α, T) at the best size. A true render has IoU ≥ 0.9 with its own template; a blurred
 * or ragged edge, or a shape between two templates, has less whichever template is tried.
 */
export function templateFit(
  m: FrameMeasure,
  width: number,
  height: number,
): { misfit: Record<ShapeName, number>; iou: Record<ShapeName, number> } {
  const misfit = {} as Record<ShapeName, number>;
  const iou = {} as Record<ShapeName, number>;
  for (const shape of SHAPES) {
    const r0 = Math.sqrt(m.area / shapeArea(shape, 1));
    const reach = Math.ceil(1.6 * r0 * 1.15) + 2;
    const xa = Math.max(0, Math.floor(m.cx - reach));
    const xb = Math.min(width - 1, Math.ceil(m.cx + reach));
    const ya = Math.max(0, Math.floor(m.cy - reach));
    const yb = Math.min(height - 1, Math.ceil(m.cy + reach));
    let best = Infinity;
    let bestIou = 0;
    // A generated object's coverage can be off by a few percent; a small size search keeps that from
    // deciding the shape.
    for (const scale of [0.9, 1, 1.1]) {
      const r = r0 * scale;
      let sse = 0;
      let inter = 0;
      let union = 0;
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          const p = y * width + x;
          const observed = m.region[p] ? m.alpha[p]! : 0;
          const t = templateCoverage(shape, x, y, m.cx, m.cy, r);
          const e = observed - t;
          sse += e * e;
          inter += Math.min(observed, t);
          union += Math.max(observed, t);
        }
      }
      if (sse < best) {
        best = sse;
        bestIou = union > 0 ? inter / union : 0;
      }
    }
    // Normalised by area so that big and small frames weigh alike when summed over the clip.
    misfit[shape] = best / m.area;
    iou[shape] = bestIou;
  }
  return { misfit, iou };
}

/** Hard-mask bounding-box fill ratio (soft area / bbox area): ~0.79 circle, ~1 square, ~0.5 triangle. */
export function fillRatio(m: FrameMeasure): number {
  const [x0, y0, x1, y1] = m.bbox;
  return m.area / ((x1 - x0 + 1) * (y1 - y0 + 1));
}

// ---------------------------------------------------------------------------------------------------------
// Whole-clip analysis

export interface ClipAnalysis {
  /** An object of some palette colour was found in at least half of the frames; when false, colour, shape
   * and motion are all null (scored as wrong). */
  readonly found: boolean;
  readonly background: { readonly rgb: Rgb; readonly name: BackgroundName };
  readonly colour: ColourName | null;
  readonly colourResiduals: Record<ColourName, number> | null;
  readonly shape: ShapeName | null;
  readonly shapeMisfit: Record<ShapeName, number> | null;
  /** Median bbox fill ratio over the frames where the object is whole (diagnostic). */
  readonly fill: number | null;
  readonly motion: MotionName | null;
  /** Fitted centroid travel over the clip, px (+x right, +y down). */
  readonly displacement: { readonly dx: number; readonly dy: number };
  /** Fitted last/first soft-area ratio. */
  readonly areaRatio: number;
  /** Frames where an object was found. */
  readonly presentFrames: number;
  readonly track: ReadonlyArray<{ readonly cx: number; readonly cy: number; readonly area: number } | null>;
  /** Share of the F-1 frame transitions in which the object stays one continuous object (see README);
   * 0 when no object was found. */
  readonly temporalConsistency: number;
  /** Mean |Δ| in [0, 1] between consecutive frames over pixels that are background in both (flicker). */
  readonly backgroundFlicker: number;
  /** What each frame shows on its own (shape constancy, edge sharpness); see {@link FrameShape}. */
  readonly frameShapes: readonly FrameShape[];
}

/**
 * One frame's own reading. `judged` is false only for a frame whose object touches the border (cut off,
 * so its outline says nothing about the shape) while enough whole frames remain; a frame without the
 * object is judged, with no shape and IoU 0, since the object lost its identity there. When the clip has
 * no object at all, every frame is such a frame.
 */
export interface FrameShape {
  readonly judged: boolean;
  /** The frame's best-fitting template (least misfit), null without an object. */
  readonly shape: ShapeName | null;
  /** Soft IoU of the frame's coverage with the best template (the highest over shapes), 0 without an object. */
  readonly iou: number;
}

/** Shape constancy of one clip: frames whose own best-fitting shape is `shape`, of the judged frames. */
export function shapeConstancy(a: ClipAnalysis, shape: ShapeName): { right: number; judged: number } {
  const judged = a.frameShapes.filter((f) => f.judged);
  return { right: judged.filter((f) => f.shape === shape).length, judged: judged.length };
}

/** Edge sharpness of one clip: the judged frames' summed IoU with their best template, and how many. */
export function edgeSharpness(a: ClipAnalysis): { iouSum: number; judged: number } {
  const judged = a.frameShapes.filter((f) => f.judged);
  return { iouSum: judged.reduce((s, f) => s + f.iou, 0), judged: judged.length };
}

/** A transition is continuous when the centroid moves at most this far (px; the renderer moves ≤ 1 px/frame)… */
const MAX_JUMP = 3;
/** …and the soft area changes by at most this factor (the renderer: ≤ 1.13 per frame). */
const MAX_AREA_STEP = 1.5;

export function analyzeClip(clip: Clip): ClipAnalysis {
  const { frames, width: w, height: h } = clip;
  const bgRgb = estimateBackground(clip);
  const background = { rgb: bgRgb, name: nearestBackground(bgRgb) };

  // Pass 1: components and the clip's colour from all of their pixels.
  const components: Uint8Array[] = [];
  const pooled: Rgb[] = [];
  for (let f = 0; f < frames; f++) {
    const comp = largestComponent(foregroundMask(clip, f, bgRgb), w, h);
    components.push(comp);
    for (let p = 0; p < comp.length; p++) if (comp[p]) pooled.push(pixelAt(clip, f, p));
  }
  const called = classifyColour(pooled, bgRgb);
  const colour = called.colour && called.residuals[called.colour] <= COLOUR_GATE ? called.colour : null;
  const residuals = called.residuals;

  // Pass 2: per-frame coverage measurements against that colour.
  const measures: (FrameMeasure | null)[] = components.map((comp, f) =>
    colour ? measureFrame(clip, f, bgRgb, colour, comp) : null,
  );
  const present = measures.flatMap((m, f) => (m ? [{ m, f }] : []));
  const flicker = backgroundFlicker(clip, measures);
  const track = measures.map((m) => (m ? { cx: m.cx, cy: m.cy, area: m.area } : null));

  // Frames where the object is whole judge shape and size; cut-off frames would bias both.
  const whole = present.filter(({ m }) => !m.touchesBorder);
  const judged = whole.length >= 3 ? whole : present;
  const fits = new Map(judged.map(({ m, f }) => [f, templateFit(m, w, h)]));
  const misfit: Record<ShapeName, number> = { circle: 0, square: 0, triangle: 0 };
  for (const fit of fits.values()) for (const s of SHAPES) misfit[s] += fit.misfit[s] / judged.length;
  const shape = SHAPES.reduce((a, b) => (misfit[b] < misfit[a] ? b : a));
  const frameShapes = (found: boolean): FrameShape[] =>
    measures.map((m, f) => {
      const fit = fits.get(f);
      if (!found || !m) return { judged: true, shape: null, iou: 0 };
      if (!fit) return { judged: false, shape: null, iou: 0 }; // cut off by the border
      const own = SHAPES.reduce((a, b) => (fit.misfit[b] < fit.misfit[a] ? b : a));
      return { judged: true, shape: own, iou: Math.max(...SHAPES.map((s) => fit.iou[s])) };
    });

  // No object: too few frames show one, or what is there has no palette colour or is no compact shape.
  // Every call is then "none", which scores as wrong.
  if (!colour || present.length < Math.max(2, Math.ceil(frames / 2)) || !(misfit[shape] <= OBJECT_GATE)) {
    return {
      found: false,
      background,
      colour: null,
      colourResiduals: pooled.length ? residuals : null,
      shape: null,
      shapeMisfit: present.length ? misfit : null,
      fill: null,
      motion: null,
      // No object, so no object to be consistent: 0 (flicker still describes the frames).
      displacement: { dx: 0, dy: 0 },
      areaRatio: 1,
      presentFrames: present.length,
      track,
      temporalConsistency: 0,
      backgroundFlicker: flicker,
      frameShapes: frameShapes(false),
    };
  }

  const fill = median(Float32Array.from(judged.map(({ m }) => fillRatio(m))));

  const span = frames - 1;
  const dx =
    slope(
      present.map(({ f }) => f),
      present.map(({ m }) => m.cx),
    ) * span;
  const dy =
    slope(
      present.map(({ f }) => f),
      present.map(({ m }) => m.cy),
    ) * span;
  const areaFrames = whole.length >= 4 ? whole : present;
  const lnRatio =
    slope(
      areaFrames.map(({ f }) => f),
      areaFrames.map(({ m }) => Math.log(m.area)),
    ) * span;
  const motion = classifyMotion(dx, dy, lnRatio);

  return {
    found: true,
    background,
    colour,
    colourResiduals: residuals,
    shape,
    shapeMisfit: misfit,
    fill,
    motion,
    displacement: { dx, dy },
    areaRatio: Math.exp(lnRatio),
    presentFrames: present.length,
    track,
    temporalConsistency: temporal(measures),
    backgroundFlicker: flicker,
    frameShapes: frameShapes(true),
  };
}

/**
 * Motion from the fitted travel (px) and log area ratio: whichever kind of evidence is larger, in units of
 * the renderer's smallest motion of that kind, decides; too little of both is "still".
 */
export function classifyMotion(dx: number, dy: number, lnAreaRatio: number): MotionName {
  const translation = Math.hypot(dx, dy) / TRANSLATION_UNIT;
  const growth = Math.abs(lnAreaRatio) / GROWTH_UNIT;
  if (Math.max(translation, growth) < STILL_BELOW) return 'still';
  if (growth > translation) return lnAreaRatio > 0 ? 'growing' : 'shrinking';
  if (Math.abs(dx) >= Math.abs(dy)) return dx < 0 ? 'left' : 'right';
  return dy < 0 ? 'up' : 'down';
}

function temporal(measures: readonly (FrameMeasure | null)[]): number {
  let ok = 0;
  for (let f = 0; f + 1 < measures.length; f++) {
    const a = measures[f];
    const b = measures[f + 1];
    if (!a || !b || a.colour !== b.colour) continue;
    const ratio = Math.max(a.area / b.area, b.area / a.area);
    if (ratio <= MAX_AREA_STEP && Math.hypot(a.cx - b.cx, a.cy - b.cy) <= MAX_JUMP) ok++;
  }
  return measures.length > 1 ? ok / (measures.length - 1) : 1;
}

function backgroundFlicker(clip: Clip, measures: readonly (FrameMeasure | null)[]): number {
  const n = clip.width * clip.height;
  let sum = 0;
  let count = 0;
  for (let f = 0; f + 1 < clip.frames; f++) {
    const a = measures[f]?.region;
    const b = measures[f + 1]?.region;
    for (let p = 0; p < n; p++) {
      if (a?.[p] || b?.[p]) continue;
      for (let c = 0; c < 3; c++)
        sum += Math.abs(clip.rgb[((f + 1) * n + p) * 3 + c]! - clip.rgb[(f * n + p) * 3 + c]!);
      count += 3;
    }
  }
  return count ? sum / count : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Conditioning metrics (pixel values in [0, 1])

/** PSNRs above this are reported as this (identical images would be +∞, which JSON cannot hold). */
export const PSNR_CAP = 100;

/** PSNR in dB of `a` against `b` over the pixels where `weight` (per pixel, optional) is 1. */
export function psnr(a: Clip, b: Clip, weight?: Float32Array): number {
  if (a.rgb.length !== b.rgb.length)
    throw new Error(`psnr: sizes differ (${a.frames}×${a.height}×${a.width} vs ${b.frames}×${b.height}×${b.width})`);
  let sum = 0;
  let count = 0;
  for (let p = 0; p < a.rgb.length / 3; p++) {
    const wgt = weight ? weight[p]! : 1;
    if (!wgt) continue;
    for (let c = 0; c < 3; c++) {
      const d = a.rgb[p * 3 + c]! - b.rgb[p * 3 + c]!;
      sum += wgt * d * d;
    }
    count += 3 * wgt;
  }
  if (!count) throw new Error('psnr: no pixels selected');
  const mse = sum / count;
  return mse <= 0 ? PSNR_CAP : Math.min(PSNR_CAP, 10 * Math.log10(1 / mse));
}

/** Image-to-video: PSNR of the generated first frame against the conditioning image (a one-frame clip). */
export function firstFramePsnr(video: Clip, image: Clip): number {
  return psnr(frameOf(video, 0), image);
}

/**
 * Inpainting: PSNR against the source video over the pixels outside the region (region: [H×W] or
 * [F×H×W], 1 = regenerated). Those pixels are given to the model, so they should come back unchanged.
 */
export function outsideMaskPsnr(video: Clip, source: Clip, region: Float32Array): number {
  return psnr(video, source, keepWeights(video, region));
}

/**
 * Cinemagraph: mean |Δ| between consecutive frames over the pixels outside the animated region, all
 * channels, values in [0, 1]. 0 means a perfectly frozen background.
 */
export function staticRegionDelta(video: Clip, region: Float32Array): number {
  return meanFrameDelta(video, keepWeights(video, region), 'static region');
}

/**
 * Cinemagraph, the other half: mean |Δ| between consecutive frames inside the animated region. A clip that
 * is frozen everywhere scores a perfect {@link staticRegionDelta}; this says whether anything moves at all.
 */
export function animatedRegionDelta(video: Clip, region: Float32Array): number {
  const keep = keepWeights(video, region);
  return meanFrameDelta(
    video,
    keep.map((k) => 1 - k),
    'animated region',
  );
}

/** Mean |Δ| between consecutive frames over pixels selected (1) in both frames. */
function meanFrameDelta(video: Clip, select: Float32Array, what: string): number {
  const n = video.width * video.height;
  let sum = 0;
  let count = 0;
  for (let f = 0; f + 1 < video.frames; f++) {
    for (let p = 0; p < n; p++) {
      // Selected in both frames (a per-frame region can move).
      if (!select[f * n + p] || !select[(f + 1) * n + p]) continue;
      for (let c = 0; c < 3; c++)
        sum += Math.abs(video.rgb[((f + 1) * n + p) * 3 + c]! - video.rgb[(f * n + p) * 3 + c]!);
      count += 3;
    }
  }
  if (!count) throw new Error(`${what}: no pixels selected`);
  return sum / count;
}

/** 1 where a pixel is outside the region (region < 0.5), per frame; a one-plane region applies to all frames. */
function keepWeights(video: Clip, region: Float32Array): Float32Array {
  const n = video.width * video.height;
  if (region.length !== n && region.length !== n * video.frames)
    throw new Error(`region has ${region.length} values; expected ${n} or ${n * video.frames}`);
  const keep = new Float32Array(n * video.frames);
  for (let i = 0; i < keep.length; i++) keep[i] = region[region.length === n ? i % n : i]! < 0.5 ? 1 : 0;
  return keep;
}

/** A rectangle region plane (1 inside), from fractions of the frame; a pixel is inside when its centre is. */
export function rectRegion(width: number, height: number, x: number, y: number, rw: number, rh: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const cx = (px + 0.5) / width;
      const cy = (py + 0.5) / height;
      if (cx >= x && cx < x + rw && cy >= y && cy < y + rh) out[py * width + px] = 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Small numerics

function median(values0: Float32Array): number {
  const values = values0.slice().sort();
  const n = values.length;
  if (!n) return NaN;
  return n % 2 ? values[(n - 1) / 2]! : (values[n / 2 - 1]! + values[n / 2]!) / 2;
}

/** Least-squares slope of y over x (0 for fewer than two distinct x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

function nearestKey<K extends string>(palette: Readonly<Record<K, Rgb>>, rgb: Rgb): K {
  let best: K | undefined;
  let bestD = Infinity;
  for (const key of Object.keys(palette) as K[]) {
    const c = palette[key];
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = key;
    }
  }
  return best!;
}
