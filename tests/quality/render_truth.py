"""Render ground-truth clips with the training renderer (training/data.py) for the TS evaluator.

The evaluator in tests/quality must read ground truth correctly before its figures on generated clips
mean anything, so its tests run on clips made by exactly the code the model is trained on. CI has no
torch/numpy, so the committed fixture is produced once by this script and read back in TypeScript.

    /usr/bin/python3 tests/quality/render_truth.py --mode grid --out tests/quality/fixtures/truth
    /usr/bin/python3 tests/quality/render_truth.py --mode sample --n 600 --out /tmp/kg-truth

Writes <out>.json (one entry per clip: caption, attributes, per-object geometry) and <out>.u8.gz:
gzip of uint8 RGB, clip-major, laid out [clip][frame][y][x][rgb], values round((v + 1) / 2 * 255).
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "training"))

from data import (  # noqa: E402
    BACKGROUNDS, COLOURS, FRAMES, LO, MOTIONS, SHAPES, ClipSpec, _sample_object, caption_for,
    clip_spec, downsample2, is_held_out, render,
)


def grid_specs(seed: int) -> list[ClipSpec]:
    """Every (shape, colour, motion) once, the background cycling, positions drawn like training."""
    rng = np.random.default_rng(seed)
    bgs = list(BACKGROUNDS)
    specs = []
    for i, (shape, colour, motion) in enumerate(itertools.product(SHAPES, COLOURS, MOTIONS)):
        # Stride 2 over 3 backgrounds so consecutive combinations differ in background too.
        bg = bgs[(i * 2 + i // 7) % len(bgs)]
        obj = _sample_object(rng, shape, colour, motion)
        specs.append(ClipSpec([obj], bg, "solid", caption_for([obj], bg)))
    return specs


def sample_specs(seed: int, n: int) -> list[ClipSpec]:
    """The training distribution (single objects), half seen and half held-out combinations."""
    out = []
    for i in range(n):
        split = "heldout" if i % 2 else "train"
        out.append(clip_spec(seed, i, split=split, two_object_p=0.0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["grid", "sample"], default="grid")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", required=True, help="path prefix: writes <out>.json and <out>.u8.gz")
    args = ap.parse_args()

    specs = grid_specs(args.seed) if args.mode == "grid" else sample_specs(args.seed, args.n)
    meta, pixels = [], []
    for spec in specs:
        lo = downsample2(render(spec))  # [3, F, 32, 32] in [-1, 1], exactly what the base model sees
        u8 = np.clip(np.round((lo + 1.0) / 2.0 * 255.0), 0, 255).astype(np.uint8)
        pixels.append(u8.transpose(1, 2, 3, 0))  # [F, H, W, 3]
        o = spec.objects[0]
        meta.append({
            "caption": spec.caption,
            "shape": o.shape, "colour": o.colour, "motion": o.motion, "background": spec.background,
            "heldOut": bool(is_held_out(o.shape, o.colour, o.motion, spec.background)),
            "x0": o.x0, "y0": o.y0, "r0": o.r0, "dist": o.dist,
        })
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    header = {"frames": FRAMES, "height": LO, "width": LO, "channels": 3, "mode": args.mode,
              "seed": args.seed, "generator": "tests/quality/render_truth.py", "clips": meta}
    with open(args.out + ".json", "w") as f:
        json.dump(header, f, indent=0)
    with gzip.open(args.out + ".u8.gz", "wb", compresslevel=9) as f:
        f.write(np.stack(pixels).tobytes())
    print(f"{len(specs)} clips -> {args.out}.json, {args.out}.u8.gz")


if __name__ == "__main__":
    main()
