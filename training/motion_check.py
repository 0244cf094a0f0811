"""How often do the torch weights move an object the asked way, on the prompts the full evaluation got wrong?

A quick interim check between exports (the full evaluation, `npm run quality`, needs an export and the runtime):
text-to-video with the torch STUNet at the shipped workflows' sampler settings (DPM++ 2M, 25 steps, guidance 3),
the motion read back by `evaluate.read_attributes`. Its seeds draw the torch sampler's noise, not the runtime's,
so the clips are independent of the evaluation's.

    /usr/bin/python3 training/motion_check.py --ckpt runs/hard/latest.pt --seeds 0,1,2,3
"""
from __future__ import annotations

import argparse
import time

import torch

from evaluate import read_attributes
from sample import generate

# The translations of the 216-clip evaluation of step 31,200 that went the wrong way (tests/quality/results/
# latest.md), and two that went right, as a control.
PROMPTS = [
    "a red circle moving right on a navy background",  # held out
    "a red square moving right on a navy background",  # held out
    "a red triangle moving right on a navy background",  # held out
    "a yellow triangle moving right on a navy background",  # held out
    "a blue triangle moving right on a navy background",
    "a red circle moving left on a gray background",
    "a white circle moving left on a navy background",
    "a green square moving right on a gray background",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--weights", choices=["auto", "ema", "raw"], default="auto")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    t0 = time.time()
    right, rows = 0, {p: [] for p in PROMPTS}
    seeds = [int(s) for s in a.seeds.split(",")]
    for seed in seeds:
        vid = generate(a.ckpt, PROMPTS, kind="dpmpp_2m", steps=25, cfg=3.0, seed=seed,
                       out=f"/tmp/motion_check_{seed}.png", weights=a.weights)
        torch.set_num_threads(a.threads)
        for p, v in zip(PROMPTS, vid.numpy()):
            got = read_attributes(v)["motion"]
            asked = p.split(" moving ")[1].split(" ")[0]
            rows[p].append(got)
            right += got == asked
    for p, got in rows.items():
        print(f"  {p:55s} {' '.join(str(g) for g in got)}")
    n = len(PROMPTS) * len(seeds)
    print(f"asked direction in {right} of {n} clips ({100 * right / n:.1f}%); {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
