"""Compositional evaluation: does the STUNet render what the caption says,
for seen combinations and for the held-out ones?

A hand-written attribute reader (no learned classifier) measures background,
colour, shape and motion of single-object 32x32 clips; it is first checked on
ground-truth renders (--check), then applied to generated clips.

    /usr/bin/python3 training/evaluate.py --check          # reader accuracy on real clips
    /usr/bin/python3 training/evaluate.py -n 12            # generate 12 seen + 12 held-out clips
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from data import BACKGROUNDS, COLOURS, clip_spec, downsample2, render, sample_spec
from sample import generate

HERE = os.path.dirname(os.path.abspath(__file__))

PAL_BG = {k: np.array(v) for k, v in BACKGROUNDS.items()}
PAL_FG = {k: np.array(v) for k, v in COLOURS.items()}


def nearest(p, pal):
    return min(pal, key=lambda k: float(np.sum((pal[k] - p) ** 2)))


def read_attributes(video: np.ndarray) -> dict:
    """video [3, F, H, W] in [-1, 1] -> {background, colour, shape, motion}."""
    v = (np.clip(video, -1, 1) + 1) / 2  # [3, F, H, W] in [0, 1]
    pix = v.reshape(3, -1).T
    bg_col = np.median(pix, axis=0)
    bg = nearest(bg_col, PAL_BG)
    dist = np.sqrt(((v - PAL_BG[bg][:, None, None, None]) ** 2).sum(0))  # [F, H, W]
    mask = dist > 0.35
    core = dist > 0.6
    if core.sum() < 3:
        return {"background": bg, "colour": None, "shape": None, "motion": None}
    colour = nearest(v[:, core].mean(axis=1), PAL_FG)
    f = v.shape[1]
    cents, areas, fills = [], [], []
    for i in range(f):
        ys, xs = np.nonzero(mask[i])
        if len(ys) < 3:
            cents.append(None)
            areas.append(0)
            continue
        cents.append((xs.mean(), ys.mean()))
        areas.append(len(ys))
        bbox = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
        fills.append(len(ys) / bbox)
    fill = float(np.median(fills)) if fills else 0.0
    shape = "square" if fill > 0.88 else ("circle" if fill > 0.64 else "triangle")
    valid = [i for i, c in enumerate(cents) if c is not None]
    a0 = np.mean([areas[i] for i in valid[:3]])
    a1 = np.mean([areas[i] for i in valid[-3:]])
    (x0, y0), (x1, y1) = cents[valid[0]], cents[valid[-1]]
    dx, dy = x1 - x0, y1 - y0
    if a1 > 1.6 * a0:
        motion = "growing"
    elif a0 > 1.6 * a1:
        motion = "shrinking"
    elif max(abs(dx), abs(dy)) < 2.0:
        motion = "still"
    elif abs(dx) > abs(dy):
        motion = "right" if dx > 0 else "left"
    else:
        motion = "down" if dy > 0 else "up"
    return {"background": bg, "colour": colour, "shape": shape, "motion": motion}


def eval_set(n: int, split: str, seed: int):
    """n single-object (caption, truth, clip32) from the given split."""
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    out = []
    while len(out) < n:
        spec = sample_spec(rng, split, two_object_p=0.0)
        o = spec.objects[0]
        out.append((spec.caption, {"background": spec.background, "colour": o.colour, "shape": o.shape,
                                   "motion": o.motion}))
    return out


def score(preds, truths):
    keys = ["background", "colour", "shape", "motion"]
    acc = {k: float(np.mean([p[k] == t[k] for p, t in zip(preds, truths)])) for k in keys}
    acc["all"] = float(np.mean([all(p[k] == t[k] for k in keys) for p, t in zip(preds, truths)]))
    return acc


def check_reader(n=200):
    preds, truths = [], []
    for i in range(n):
        spec = clip_spec(99, i, two_object_p=0.0)
        o = spec.objects[0]
        truths.append({"background": spec.background, "colour": o.colour, "shape": o.shape, "motion": o.motion})
        preds.append(read_attributes(downsample2(render(spec))))
    return score(preds, truths)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("-n", type=int, default=12)
    ap.add_argument("--ckpt")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--out", default=os.path.join(HERE, "runs", "eval.json"))
    a = ap.parse_args()
    if a.check:
        print(json.dumps(check_reader()))
        return
    result = {}
    for split in ("train", "heldout"):
        items = eval_set(a.n, split, seed=2024)
        vid = generate(a.ckpt, [c for c, _ in items], steps=a.steps, cfg=a.cfg,
                       out=os.path.join(HERE, "runs", f"eval_{split}.png")).numpy()
        preds = [read_attributes(v) for v in vid]
        result["seen" if split == "train" else "held_out"] = {
            "accuracy": score(preds, [t for _, t in items]),
            "examples": [{"caption": c, "read": p} for (c, _), p in zip(items, preds)],
        }
        print(split, json.dumps(result["seen" if split == "train" else "held_out"]["accuracy"]), flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
