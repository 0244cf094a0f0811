"""STUNet training batches for an accelerator: what each clip shows is drawn in DataLoader worker processes,
the pixels are rendered by torch on the training device.

On this project's 2-core CPU the numpy renderer (data.render, ~9 ms a clip) is no bottleneck next to a
1.8 s training step. On a GPU a step of a hundred clips takes a fraction of a second, and the numpy renderer
would need dozens of cores to keep up. So the workers only draw each clip's description (`data.clip_spec`:
the very stream `data.make_batch` draws, held-out rules included, 0.07 ms a clip), the caption tokens with
the classifier-free-guidance drop, and the conditioning task with its box; `render` turns the object
parameters into pixels on the device with data.render's arithmetic (float32 signed distances, analytic
anti-aliasing at 64x64, 2x2 box filter to 32x32), and `conditions` builds tasks.make_condition's target,
conditioning video and mask from the drawn boxes. `python3 device_batches.py` checks both against the numpy
and per-clip torch code.

Each step's batch is a pure function of (seed, step), as on the CPU path, though the task, caption-drop and
box draws come from numpy here rather than from the step's torch generator, so the two paths do not replay
each other's tasks.
"""
from __future__ import annotations

import numpy as np
import torch

import tasks as tasks_module
from data import FRAMES, HI, clip_spec, downsample2
from data import render as render_numpy
from tasks import TASK_P, TASKS, make_condition
from tokenizer import encode_batch
from vocab import BACKGROUNDS, COLOURS, MOTIONS, SHAPES

MAX_OBJECTS = 2
LO_SIZE = HI // 2


class SpecBatches(torch.utils.data.Dataset):
    """Index = training step; item = the step's batch as small CPU tensors (no pixels)."""

    def __init__(self, seed: int, batch: int, translation_weight: float = 1.0, cfg_drop: float = 0.1,
                 motion_weights: dict | None = None, background_weights: dict | None = None):
        self.seed, self.batch, self.translation_weight, self.cfg_drop = seed, batch, translation_weight, cfg_drop
        self.mix = {"translation_weight": translation_weight, "motion_weights": motion_weights,
                    "background_weights": background_weights}

    def __len__(self):
        return 1 << 40

    def __getitem__(self, step: int) -> dict:
        b = self.batch
        specs = [clip_spec(self.seed, step * b + i, **self.mix) for i in range(b)]
        rng = np.random.default_rng([self.seed, step, 77])
        drop = rng.random(b) < self.cfg_drop
        tokens = encode_batch(["" if d else s.caption for s, d in zip(specs, drop)])
        tasks = rng.choice(len(TASKS), size=b, p=TASK_P)
        boxes = np.zeros((b, 4), np.int64)  # y, x, height, width of the inpainted / animated box
        h = w = LO_SIZE
        for i, k in enumerate(tasks):
            name = TASKS[k]
            if name not in ("inpaint", "cinemagraph"):
                continue
            lo, hi = (h // 4, (h * 5) // 8) if name == "inpaint" else (h // 3, (h * 3) // 4)
            bh, bw = rng.integers(lo, hi + 1), rng.integers(lo, hi + 1)
            boxes[i] = (rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1), bh, bw)
        objects = np.zeros((b, MAX_OBJECTS, 7), np.float64)  # see render
        colours = np.zeros((b, MAX_OBJECTS, 3), np.float32)
        background = np.zeros((b, 3), np.float32)
        for i, s in enumerate(specs):
            background[i] = BACKGROUNDS[s.background]
            for j, o in enumerate(s.objects):
                objects[i, j] = (1.0, SHAPES.index(o.shape), MOTIONS.index(o.motion), o.x0, o.y0, o.r0, o.dist)
                colours[i, j] = COLOURS[o.colour]
        return {"step": step, "tokens": torch.from_numpy(tokens), "tasks": torch.from_numpy(tasks),
                "boxes": torch.from_numpy(boxes), "objects": torch.from_numpy(objects),
                "colours": torch.from_numpy(colours), "background": torch.from_numpy(background)}


def render(objects: torch.Tensor, colours: torch.Tensor, background: torch.Tensor, size: int = HI) -> torch.Tensor:
    """data.render for a batch, on the tensors' device: objects [B, K, 7] float64 (present, shape index, motion
    index, x0, y0, r0, dist), colours [B, K, 3], background [B, 3] -> [B, 3, FRAMES, size, size] in [-1, 1]."""
    dev = objects.device
    b = objects.shape[0]
    s = torch.arange(FRAMES, dtype=torch.float64, device=dev) / (FRAMES - 1)  # [F]
    ys, xs = torch.meshgrid(torch.arange(size, device=dev, dtype=torch.float32) + 0.5,
                            torch.arange(size, device=dev, dtype=torch.float32) + 0.5, indexing="ij")
    img = background.float().reshape(b, 1, 1, 1, 3).expand(b, FRAMES, size, size, 3).clone()
    for j in range(objects.shape[1]):
        o = objects[:, j]
        present, shape, motion = o[:, 0] > 0, o[:, 1].long(), o[:, 2].long()
        x0, y0, r0, dist = (o[:, k:k + 1] for k in range(3, 7))  # [B, 1] float64
        m = lambda name: (motion == MOTIONS.index(name)).unsqueeze(1)  # noqa: E731
        x = x0 - torch.where(m("left"), dist * s, 0.0 * s) + torch.where(m("right"), dist * s, 0.0 * s)
        y = y0 - torch.where(m("up"), dist * s, 0.0 * s) + torch.where(m("down"), dist * s, 0.0 * s)
        sized = m("growing") | m("shrinking")
        r = torch.where(sized, r0 * dist ** s, r0.expand(b, FRAMES))  # [B, F] float64
        # Scalars are formed in float64 and rounded to float32, as numpy does with Python floats.
        cx, cy = (x * size).float()[..., None, None], (y * size).float()[..., None, None]
        rr = r * size
        dx, dy = xs - cx, ys - cy  # [B, F, S, S]
        circle = torch.sqrt(dx * dx + dy * dy) - rr.float()[..., None, None]
        square = torch.maximum(dx.abs(), dy.abs()) - (rr * 0.9).float()[..., None, None]
        ri = (rr * 0.75).float()[..., None, None]
        tri = torch.maximum(dy - ri, torch.maximum((-dy * 0.5 + dx * 0.8660254) - ri, (-dy * 0.5 - dx * 0.8660254) - ri))
        sh = shape.reshape(b, 1, 1, 1)
        d = torch.where(sh == 0, circle, torch.where(sh == 1, square, tri))
        cov = (0.5 - d).clamp(0.0, 1.0)[..., None] * present.reshape(b, 1, 1, 1, 1)
        img = img * (1 - cov) + colours[:, j].float().reshape(b, 1, 1, 1, 3) * cov
    return img.permute(0, 4, 1, 2, 3) * 2.0 - 1.0


def downsample(video: torch.Tensor) -> torch.Tensor:
    """2x2 box filter (data.downsample2): [B, 3, F, 2H, 2W] -> [B, 3, F, H, W]."""
    b, c, f, h, w = video.shape
    return video.reshape(b, c, f, h // 2, 2, w // 2, 2).mean(dim=(4, 6))


def conditions(x0: torch.Tensor, tasks: torch.Tensor, boxes: torch.Tensor):
    """tasks.make_condition with the drawn tasks and boxes: (target, cond, mask) for clean clips x0 [B,3,F,H,W]."""
    b, _, f, h, w = x0.shape
    dev = x0.device
    yy = torch.arange(h, device=dev).reshape(1, h, 1)
    xx = torch.arange(w, device=dev).reshape(1, 1, w)
    y, x, bh, bw = (boxes[:, k].reshape(b, 1, 1) for k in range(4))
    inside = ((yy >= y) & (yy < y + bh) & (xx >= x) & (xx < x + bw)).float().reshape(b, 1, 1, h, w)
    task = tasks.reshape(b, 1, 1, 1, 1)
    i2v, inpaint, cine = (task == TASKS.index(k) for k in ("i2v", "inpaint", "cinemagraph"))
    first = torch.zeros(1, 1, f, 1, 1, device=dev)
    first[:, :, 0] = 1.0
    mask = torch.where(i2v, first.expand(b, 1, f, h, w), torch.zeros(b, 1, f, h, w, device=dev))
    mask = torch.where(inpaint | cine, (1 - inside).expand(b, 1, f, h, w), mask)
    target = torch.where(cine, x0 * inside + x0[:, :, :1] * (1 - inside), x0)
    return target, target * mask, mask


def check(n: int = 48, seed: int = 5) -> None:
    """Device rendering and conditioning against the numpy renderer and tasks.make_condition."""
    ds = SpecBatches(seed, n, translation_weight=2.0)
    item = ds[3]
    hi = render(item["objects"], item["colours"], item["background"])
    ref = np.stack([render_numpy(clip_spec(seed, 3 * n + i, translation_weight=2.0)) for i in range(n)])
    print(f"render 64x64: max abs diff vs data.render {float((hi - torch.from_numpy(ref)).abs().max()):.2e} "
          f"({int((item['objects'][:, 1, 0] > 0).sum())} of {n} clips with two objects)")
    lo = downsample(hi)
    ref_lo = np.stack([downsample2(r) for r in ref])
    print(f"render 32x32: max abs diff vs data.downsample2 {float((lo - torch.from_numpy(ref_lo)).abs().max()):.2e}")
    target, cond, mask = conditions(lo, item["tasks"], item["boxes"])
    worst = 0.0
    for i in range(n):
        name = TASKS[int(item["tasks"][i])]
        box = tuple(int(v) for v in item["boxes"][i])
        t_ref, c_ref, m_ref = make_condition_fixed(lo[i:i + 1], name, box)
        worst = max(worst, float((t_ref - target[i:i + 1]).abs().max()), float((c_ref - cond[i:i + 1]).abs().max()),
                    float((m_ref - mask[i:i + 1]).abs().max()))
    counts = {k: int((item["tasks"] == j).sum()) for j, k in enumerate(TASKS)}
    print(f"conditions: max abs diff vs tasks.make_condition {worst:.2e} (tasks {counts})")


def make_condition_fixed(x0, name, box):
    """tasks.make_condition for one clip with its box fixed (its generator draws replaced)."""
    original = tasks_module._box
    tasks_module._box = lambda g, h, w, lo, hi: box
    try:
        target, cond, mask, _ = make_condition(x0, torch.Generator().manual_seed(0), task=name)
    finally:
        tasks_module._box = original
    return target, cond, mask


if __name__ == "__main__":
    check()
