"""Which caption words does the STUNet use? A cheap probe to run while training.

For held-out-free training clips (single object), the v-prediction loss of the text-to-video task is
measured with the true caption and with one attribute word swapped for another value (colour, shape,
motion), with the empty caption, and, on clips of translating objects, with the direction reversed. A
model that uses a word predicts worse when the word is wrong, so `gap = loss(swapped) / loss(true) - 1` is > 0 for attributes the model has learned to follow and
~0 for words it ignores. Same clips, noise and timesteps for every variant (paired comparison), at
the high-noise timesteps where layout and motion are decided. The direction is measured higher still
(t = 975, 990, 999 by default): below ~t 970 a 16-frame object path stands out of the noise in x_t itself
(at t = 950 by ~4 sigma), so a model reads the direction from x_t there and the word cannot matter; only at
the top of the schedule, where the sampler decides it, does it carry information.

    /usr/bin/python3 training/probe.py                  # EMA weights when present (as export --weights auto)
    /usr/bin/python3 training/probe.py --weights raw -n 32

Prints one line per attribute and, with --log, appends a JSON record to runs/probe.jsonl.
About 1.5 minutes on one CPU thread with the defaults.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import torch

import ckpt as ck_io
import numpy as np

from data import BACKGROUNDS, COLOURS, LO, MOTIONS, SHAPES, ClipSpec, _sample_object, caption_for, downsample2, \
    is_held_out, make_clip, render
from schedule import AC
from tokenizer import encode_batch

HERE = os.path.dirname(os.path.abspath(__file__))

ATTRIBUTES = {
    "colour": list(COLOURS),
    "shape": SHAPES,
    # "still" is phrased "standing still", so it is swapped in and out as a phrase.
    "motion": [m if m in ("growing", "shrinking") else ("standing still" if m == "still" else f"moving {m}")
               for m in MOTIONS],
}


def swap(caption: str, values: list, k: int) -> str:
    """The caption with its value of one attribute replaced by another value (chosen by k)."""
    for v in values:
        if re.search(rf"\b{v}\b", caption):
            others = [o for o in values if o != v]
            return re.sub(rf"\b{v}\b", others[k % len(others)], caption, count=1)
    raise ValueError(f"no value of {values} in {caption!r}")


OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def opposite_direction(caption: str) -> str:
    """The caption of a translating object with its direction reversed ("moving left" -> "moving right")."""
    return re.sub(r"\bmoving (left|right|up|down)\b", lambda m: "moving " + OPPOSITE[m.group(1)], caption, count=1)


def translation_clips(seed: int, n: int) -> list:
    """The first n single-object clips of the stream whose object moves left, right, up or down."""
    out, i = [], 0
    while len(out) < n:
        c = make_clip(seed, i, two_object_p=0.0)
        if re.search(r"\bmoving (left|right|up|down)\b", c[0]):
            out.append(c)
        i += 1
    return out


@torch.no_grad()
def paired_losses(text, net, x0, variants: dict, timesteps: list, seed: int) -> dict:
    """Mean text-to-video v-prediction loss of each caption variant on the same clips, noise and timesteps."""
    n = x0.shape[0]
    ctx = {k: text(torch.from_numpy(encode_batch(v))) for k, v in variants.items()}
    ac = torch.tensor(AC, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    losses = {k: 0.0 for k in variants}
    for tv in timesteps:
        t = torch.full((n,), float(tv))
        eps = torch.randn(x0.shape, generator=g)
        a = ac[tv]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        v = a.sqrt() * eps - (1 - a).sqrt() * x0
        x = torch.cat([xt, torch.zeros_like(xt), torch.zeros_like(xt[:, :1])], dim=1)  # t2v: no conditioning
        for k in variants:
            losses[k] += float(((net(x, t, ctx[k]) - v) ** 2).mean()) / len(timesteps)
    return losses


def probe(text, net, n: int, timesteps: list, direction_timesteps: list, seed: int = 99,
          only_direction: bool = False) -> dict:
    """Loss gaps for a wrong colour, shape or motion word and for the empty caption (n single-object clips),
    and for the reversed direction (n clips of translating objects: "moving left" read as "moving right").
    The motion swap mostly crosses kinds (a translation read as growing), which a model can tell apart
    while still ignoring which way an object moves; the direction gap measures exactly that."""
    losses, gap = {}, {}
    if not only_direction:
        clips = [make_clip(seed, i, two_object_p=0.0) for i in range(n)]
        caps = [c[0] for c in clips]
        x0 = torch.stack([torch.from_numpy(c[2]) for c in clips])
        variants = {"true": caps, "empty": [""] * n}
        for name, values in ATTRIBUTES.items():
            variants[name] = [swap(c, values, i) for i, c in enumerate(caps)]
        losses = paired_losses(text, net, x0, variants, timesteps, seed)
        gap = {k: losses[k] / losses["true"] - 1 for k in variants if k != "true"}
    moving = translation_clips(seed, n)
    mx0 = torch.stack([torch.from_numpy(c[2]) for c in moving])
    mcaps = [c[0] for c in moving]
    dl = paired_losses(text, net, mx0, {"true": mcaps, "direction": [opposite_direction(c) for c in mcaps]},
                       direction_timesteps, seed)
    gap["direction"] = dl["direction"] / dl["true"] - 1
    losses["direction_true"], losses["direction"] = dl["true"], dl["direction"]
    return {"loss": losses, "gap": gap}


PERPENDICULAR = {"left": ("up", "down"), "right": ("up", "down"), "up": ("left", "right"),
                 "down": ("left", "right")}


def direction_clips(background: str, direction: str, n: int, seed: int, held_out: bool = False) -> list:
    """n single-object clips of objects moving `direction` on `background`, shapes and colours cycling over the
    combinations of the asked split (seen: never a held-out combination; held-out: only held-out ones)."""
    out, i = [], 0
    combos = [(s, c) for s in SHAPES for c in COLOURS if is_held_out(s, c, direction, background) == held_out]
    while len(out) < n and combos:
        shape, colour = combos[i % len(combos)]
        rng = np.random.default_rng([seed, i, SHAPES.index(shape), list(BACKGROUNDS).index(background)])
        objects = [_sample_object(rng, shape, colour, direction)]
        spec = ClipSpec(objects, background, "solid", caption_for(objects, background))
        out.append((spec.caption, downsample2(render(spec, 2 * LO))))
        i += 1
    return out


def direction_grid(text, net, n: int, timesteps: list, seed: int = 7, held_out: bool = False) -> dict:
    """Per background and direction: the loss gap when the direction word is reversed and when it is turned by
    90 degrees (mean of both perpendicular words), at the top of the schedule. The full evaluation's misses
    are "moving right" on navy read as up or down, so the perpendicular gap is the one to watch."""
    grid = {}
    for bg in BACKGROUNDS:
        for d in ("left", "right", "up", "down"):
            clips = direction_clips(bg, d, n, seed, held_out)
            if not clips:
                continue
            caps = [c[0] for c in clips]
            x0 = torch.stack([torch.from_numpy(c[1]) for c in clips])
            variants = {"true": caps, "reversed": [c.replace(f"moving {d}", f"moving {OPPOSITE[d]}") for c in caps]}
            for k, p in enumerate(PERPENDICULAR[d]):
                variants[f"perp{k}"] = [c.replace(f"moving {d}", f"moving {p}") for c in caps]
            loss = paired_losses(text, net, x0, variants, timesteps, seed)
            grid[f"{bg}/{d}"] = {"reversed": loss["reversed"] / loss["true"] - 1,
                                 "perpendicular": (loss["perp0"] + loss["perp1"]) / (2 * loss["true"]) - 1,
                                 "true": loss["true"]}
    return grid


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=ck_io.CKPT)
    ap.add_argument("--weights", choices=["auto", "ema", "raw"], default="auto")
    ap.add_argument("-n", type=int, default=16, help="clips")
    ap.add_argument("--timesteps", default="600,800,950")
    ap.add_argument("--direction-timesteps", default="975,990,999",
                    help="timesteps of the direction gap (the top of the schedule, where x_t does not show it)")
    ap.add_argument("--only-direction", action="store_true", help="measure the direction gap alone (faster)")
    ap.add_argument("--direction-grid", action="store_true",
                    help="per background x direction: reversed and perpendicular direction gaps (alone)")
    ap.add_argument("--held-out", action="store_true", help="with --direction-grid: held-out combinations only")
    ap.add_argument("--log", action="store_true", help="append the result to runs/probe.jsonl")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ck = ck_io.load(a.ckpt)
    if ck is None or ck["weights"].get("stunet") is None:
        sys.exit("no trained STUNet in the checkpoint yet")
    ema = None if a.weights == "raw" else ck_io.load_ema(a.ckpt, 0 if a.weights == "ema" else 500)
    models, _ = ck_io.models_from_checkpoint(ck, ema)
    t0 = time.time()
    ints = lambda v: [int(s) for s in v.split(",")]  # noqa: E731
    if a.direction_grid:
        grid = direction_grid(models["text"].eval(), models["stunet"].eval(), a.n, ints(a.direction_timesteps),
                              held_out=a.held_out)
        print(f"{ck['stage']} step {ck['step']} ({'ema' if ema else 'raw'} weights), "
              f"{'held-out' if a.held_out else 'seen'} clips, t = {a.direction_timesteps}: direction gaps")
        for k, r in grid.items():
            print(f"  {k:12s} reversed {100 * r['reversed']:+7.2f}%  perpendicular {100 * r['perpendicular']:+7.2f}%")
        print(f"({time.time() - t0:.0f} s)")
        if a.log:
            os.makedirs(os.path.join(HERE, "runs"), exist_ok=True)
            with open(os.path.join(HERE, "runs", "probe.jsonl"), "a") as f:
                f.write(json.dumps({"direction_grid": grid, "held_out": a.held_out, "stage": ck["stage"],
                                    "step": ck["step"], "weights": "ema" if ema else "raw",
                                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
        return
    r = probe(models["text"].eval(), models["stunet"].eval(), a.n, ints(a.timesteps), ints(a.direction_timesteps),
              only_direction=a.only_direction)
    r.update(stage=ck["stage"], step=ck["step"], weights="ema" if ema else "raw",
             date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(f"{ck['stage']} step {ck['step']} ({r['weights']} weights), loss with the true caption "
          f"{r['loss'].get('true', r['loss']['direction_true']):.5f}; relative loss increase when a word is wrong:")
    for k, gap in r["gap"].items():
        print(f"  {k:7s} {100 * gap:+7.2f}%")
    print(f"({time.time() - t0:.0f} s)")
    if a.log:
        os.makedirs(os.path.join(HERE, "runs"), exist_ok=True)
        with open(os.path.join(HERE, "runs", "probe.jsonl"), "a") as f:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
