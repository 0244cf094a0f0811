"""Conditioning for the one STUNet that serves four tasks.

STUNet input x = cat([noisy video (3), conditioning video (3), mask (1)], dim=1).
Mask convention: 1 = known / keep (the conditioning pixel is valid),
0 = generate. The conditioning video is the clean target multiplied by the
mask (zeros where unknown).

  t2v          mask all 0                         cond all 0
  i2v          mask 1 on frame 0 only             cond = frame 0, zeros elsewhere
  inpaint      mask 0 inside a random box         cond = video outside the box
               (all frames), 1 elsewhere
  cinemagraph  mask 0 inside a region, 1 outside; the TARGET itself is made
               static outside the region (first frame repeated) so the known
               video is "the first frame repeated outside the region"
"""
from __future__ import annotations

import torch

TASKS = ["t2v", "i2v", "inpaint", "cinemagraph"]
TASK_P = [0.4, 0.25, 0.2, 0.15]


def _box(g: torch.Generator, h: int, w: int, lo: int, hi: int):
    bh = int(torch.randint(lo, hi + 1, (1,), generator=g))
    bw = int(torch.randint(lo, hi + 1, (1,), generator=g))
    y = int(torch.randint(0, h - bh + 1, (1,), generator=g))
    x = int(torch.randint(0, w - bw + 1, (1,), generator=g))
    return y, x, bh, bw


def make_condition(x0: torch.Tensor, g: torch.Generator, task: str | None = None):
    """x0: clean clips [B, 3, F, H, W]. Returns (target, cond, mask, tasks) where
    target may differ from x0 (cinemagraph), cond [B,3,F,H,W], mask [B,1,F,H,W]."""
    b, _, f, h, w = x0.shape
    target = x0.clone()
    mask = torch.zeros(b, 1, f, h, w)
    chosen = []
    probs = torch.tensor(TASK_P)
    for i in range(b):
        k = task or TASKS[int(torch.multinomial(probs, 1, generator=g))]
        chosen.append(k)
        if k == "i2v":
            mask[i, :, 0] = 1
        elif k == "inpaint":
            y, x, bh, bw = _box(g, h, w, h // 4, (h * 5) // 8)
            mask[i] = 1
            mask[i, :, :, y:y + bh, x:x + bw] = 0
        elif k == "cinemagraph":
            y, x, bh, bw = _box(g, h, w, h // 3, (h * 3) // 4)
            region = torch.zeros(1, 1, h, w)
            region[..., y:y + bh, x:x + bw] = 1
            target[i] = x0[i] * region + x0[i, :, :1] * (1 - region)
            mask[i] = (1 - region).expand(1, f, h, w)
    cond = target * mask
    return target, cond, mask, chosen
