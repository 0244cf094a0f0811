"""Deterministic captioned moving-shapes clips.

Every clip is a pure function of (seed, index): `make_clip(seed, index)` builds
its own numpy Generator from both, so a training step can be replayed exactly
after a resume without saving any RNG state.

Frames are rendered at 64x64 (for super-resolution) with analytic anti-aliasing
from signed distances; the 32x32 base-model frames are 2x2 box downsamples of
the 64x64 ones, so the two resolutions always show the same clip.
Pixel range is [-1, 1]; arrays are [3, F, H, W] (channels, frames, h, w).
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import numpy as np

from strips import save_strip
from vocab import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, STYLES, TRANSLATIONS

FRAMES = 16
HI = 64
LO = 32


# Held-out attribute combinations: a (shape, colour, motion, background) tuple
# is held out when it matches ANY rule (None = any value). None of these ever
# appears in training (two-object clips are dropped if either object matches),
# yet every single word does, so they test compositional generalisation.
HELD_OUT_RULES = [
    {"shape": "triangle", "colour": "yellow", "motion": None, "background": None},
    {"shape": None, "colour": "cyan", "motion": "down", "background": None},
    {"shape": "square", "colour": "green", "motion": "shrinking", "background": None},
    {"shape": "circle", "colour": "blue", "motion": None, "background": "gray"},
    {"shape": None, "colour": "red", "motion": "right", "background": "navy"},
    {"shape": "triangle", "colour": "white", "motion": "growing", "background": None},
    {"shape": "square", "colour": "magenta", "motion": "still", "background": None},
]


def is_held_out(shape: str, colour: str, motion: str, background: str) -> bool:
    combo = {"shape": shape, "colour": colour, "motion": motion, "background": background}
    return any(all(v is None or combo[k] == v for k, v in r.items()) for r in HELD_OUT_RULES)


def all_combinations():
    return list(itertools.product(SHAPES, COLOURS, MOTIONS, BACKGROUNDS))


def held_out_combinations():
    return [c for c in all_combinations() if is_held_out(*c)]


def rule_text(r: dict) -> str:
    """Human-readable form of a held-out rule, e.g. 'every yellow triangle'."""
    parts = []
    if r["colour"]:
        parts.append(r["colour"])
    parts.append(r["shape"] or "shape")
    if r["motion"]:
        parts.append(motion_phrase(r["motion"]))
    if r["background"]:
        parts.append(f"on a {r['background']} background")
    return " ".join(parts)


def motion_phrase(motion: str) -> str:
    if motion in ("left", "right", "up", "down"):
        return f"moving {motion}"
    if motion == "still":
        return "standing still"
    return motion  # growing / shrinking


def caption_for(objects: list["Obj"], background: str) -> str:
    """'a red circle moving left on a black background' /
    'a red square moving up and a blue circle moving left on a navy background'."""
    phrases = [f"a {o.colour} {o.shape} {motion_phrase(o.motion)}" for o in objects]
    return " and ".join(phrases) + f" on a {background} background"


@dataclass
class Obj:
    shape: str
    colour: str
    motion: str
    x0: float  # centre at frame 0, in units of the frame (0..1)
    y0: float
    r0: float  # "radius" (half size) at frame 0, units of the frame
    dist: float  # total travel over the clip (translation) or size factor (growth)


@dataclass
class ClipSpec:
    objects: list
    background: str
    style: str
    caption: str


def _sample_object(rng: np.random.Generator, shape, colour, motion) -> Obj:
    r0 = rng.uniform(0.09, 0.16)
    dist = rng.uniform(0.25, 0.45)
    x0, y0 = rng.uniform(0.25, 0.75, size=2)
    # Start on the side the object moves away from, so it stays mostly in view.
    if motion == "left":
        x0 = rng.uniform(0.55, 0.8)
    elif motion == "right":
        x0 = rng.uniform(0.2, 0.45)
    elif motion == "up":
        y0 = rng.uniform(0.55, 0.8)
    elif motion == "down":
        y0 = rng.uniform(0.2, 0.45)
    elif motion == "growing":
        r0 = rng.uniform(0.06, 0.1)
        dist = rng.uniform(1.8, 2.4)  # final radius = r0 * dist
    elif motion == "shrinking":
        r0 = rng.uniform(0.15, 0.22)
        dist = 1.0 / rng.uniform(1.8, 2.4)
    return Obj(shape, colour, motion, float(x0), float(y0), float(r0), float(dist))


def _motion_probabilities(translation_weight: float, motion_weights: dict | None = None) -> np.ndarray:
    if motion_weights is not None:
        w = np.array([float(motion_weights.get(m, 1.0)) for m in MOTIONS])
    else:
        w = np.array([translation_weight if m in TRANSLATIONS else 1.0 for m in MOTIONS])
    return w / w.sum()


def _background_probabilities(background_weights: dict) -> np.ndarray:
    w = np.array([float(background_weights.get(b, 1.0)) for b in BACKGROUNDS])
    return w / w.sum()


def sample_spec(rng: np.random.Generator, split: str = "train", two_object_p: float = 0.3,
                style: str = "solid", translation_weight: float = 1.0, motion_weights: dict | None = None,
                background_weights: dict | None = None) -> ClipSpec:
    """split='train' never yields a held-out combination; split='heldout' only does
    (single-object clips). translation_weight: how much likelier each of left/right/up/down is than each
    other motion (1 = uniform, the draw the stream always had; other values draw from another rng call).
    motion_weights / background_weights: relative weight of each motion / background by name (missing: 1);
    motion_weights replaces translation_weight; None keeps the uniform draw of the stream before them."""
    uniform_motion = translation_weight == 1.0 and motion_weights is None
    motion_p = None if uniform_motion else _motion_probabilities(translation_weight, motion_weights)
    background_p = None if background_weights is None else _background_probabilities(background_weights)
    combos = all_combinations()
    while True:
        if background_p is None:
            bg = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
        else:
            bg = list(BACKGROUNDS)[rng.choice(len(BACKGROUNDS), p=background_p)]
        n = 2 if (split == "train" and rng.random() < two_object_p) else 1
        objs = []
        for _ in range(n):
            shape = SHAPES[rng.integers(len(SHAPES))]
            colour = list(COLOURS)[rng.integers(len(COLOURS))]
            if motion_p is None:
                motion = MOTIONS[rng.integers(len(MOTIONS))]
            else:
                motion = MOTIONS[rng.choice(len(MOTIONS), p=motion_p)]
            objs.append((shape, colour, motion))
        held = [is_held_out(s, c, m, bg) for s, c, m in objs]
        if split == "train" and any(held):
            continue
        if split == "heldout" and not all(held):
            continue
        if n == 2 and objs[0][:2] == objs[1][:2]:
            continue  # two identical-looking objects make ambiguous captions
        break
    del combos
    objects = [_sample_object(rng, *o) for o in objs]
    return ClipSpec(objects, bg, style, caption_for(objects, bg))


def _object_track(o: Obj, f: int):
    """Centre (x, y) and radius at frame f."""
    s = f / (FRAMES - 1)
    x, y, r = o.x0, o.y0, o.r0
    if o.motion == "left":
        x -= o.dist * s
    elif o.motion == "right":
        x += o.dist * s
    elif o.motion == "up":
        y -= o.dist * s
    elif o.motion == "down":
        y += o.dist * s
    elif o.motion in ("growing", "shrinking"):
        r = o.r0 * (o.dist ** s)  # geometric so the growth looks uniform
    return x, y, r


def _sdf(shape: str, px, py, cx, cy, r):
    """Signed distance (pixels) to the shape boundary; negative inside."""
    dx, dy = px - cx, py - cy
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - r * 0.9
    # Upward equilateral triangle with inradius ~ r*0.75: max over edge half-planes.
    ri = r * 0.75
    d1 = dy - ri  # bottom edge
    d2 = (-dy * 0.5 + dx * 0.8660254) - ri
    d3 = (-dy * 0.5 - dx * 0.8660254) - ri
    return np.maximum(d1, np.maximum(d2, d3))


def render(spec: ClipSpec, size: int = HI) -> np.ndarray:
    """Render the clip at `size`x`size`: float32 [3, FRAMES, size, size] in [-1, 1]."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    bg = np.array(BACKGROUNDS[spec.background], np.float32)
    out = np.empty((FRAMES, size, size, 3), np.float32)
    for f in range(FRAMES):
        img = np.broadcast_to(bg, (size, size, 3)).copy()
        for o in spec.objects:
            x, y, r = _object_track(o, f)
            d = _sdf(o.shape, xs, ys, x * size, y * size, r * size)
            if spec.style == "outline":
                # Hollow outline, ~1.6px thick at 64px (StyleDrop-like target style).
                d = np.abs(d) - 0.8 * size / 64.0
            cov = np.clip(0.5 - d, 0.0, 1.0)[..., None]
            img = img * (1 - cov) + np.array(COLOURS[o.colour], np.float32) * cov
        out[f] = img
    return (out.transpose(3, 0, 1, 2) * 2.0 - 1.0).astype(np.float32)


def downsample2(video: np.ndarray) -> np.ndarray:
    """2x2 box filter: [3, F, 2H, 2W] -> [3, F, H, W]."""
    c, f, h, w = video.shape
    return video.reshape(c, f, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def clip_spec(seed: int, index: int, split: str = "train", style: str = "solid",
              two_object_p: float = 0.3, translation_weight: float = 1.0, motion_weights: dict | None = None,
              background_weights: dict | None = None) -> ClipSpec:
    rng = np.random.default_rng([seed, index, STYLES.index(style), 0 if split == "train" else 1])
    return sample_spec(rng, split, two_object_p, style, translation_weight, motion_weights, background_weights)


def make_clip(seed: int, index: int, split: str = "train", style: str = "solid",
              two_object_p: float = 0.3, translation_weight: float = 1.0, motion_weights: dict | None = None,
              background_weights: dict | None = None):
    """Deterministic clip: (caption, video64 [3,16,64,64], video32 [3,16,32,32])."""
    spec = clip_spec(seed, index, split, style, two_object_p, translation_weight, motion_weights,
                     background_weights)
    hi = render(spec, HI)
    return spec.caption, hi, downsample2(hi)


def make_batch(seed: int, step: int, batch: int, **kw):
    """Batch for training step `step`: captions list, hi [B,3,F,64,64], lo [B,3,F,32,32]."""
    caps, his, los = [], [], []
    for i in range(batch):
        c, hi, lo = make_clip(seed, step * batch + i, **kw)
        caps.append(c)
        his.append(hi)
        los.append(lo)
    return caps, np.stack(his), np.stack(los)


def preview(path: str, n: int = 6, seed: int = 0) -> None:
    """Write a PNG grid (+GIF) of n training clips (64x64), 2 outline-style and
    2 held-out ones at the end, and print their captions."""
    clips = [make_clip(seed, i) for i in range(n)]
    clips += [make_clip(seed, i, style="outline") for i in range(2)]
    clips += [make_clip(seed, i, split="heldout") for i in range(2)]
    for c in clips:
        print(c[0])
    save_strip(np.stack([c[1] for c in clips]), path, scale=1)


if __name__ == "__main__":
    n_all, n_held = len(all_combinations()), len(held_out_combinations())
    print(f"{n_held}/{n_all} single-object combinations held out ({100 * n_held / n_all:.1f}%)")
    if len(sys.argv) > 1:
        preview(sys.argv[1])
