"""Single resumable driver: runs the stages in order with step budgets.

    /usr/bin/python3 training/train.py            # resume from checkpoints/latest.pt
    /usr/bin/python3 training/train.py --smoke    # tiny budgets, separate ckpt (pipeline test)

Stages (order chosen so a usable STUNet exists early and every model of the
pack exists within ~1.5 h of CPU time; the long tail goes to the STUNet):
  t2i      text encoder + T2I U-Net trained jointly (10% empty captions)
  stunet   STUNet inflated from T2I; text encoder FROZEN from here on (so the
           exported T2I and STUNet share one encoder)
  ssr      spatial super-resolution 32->64 on 8-frame windows (fresh init)
  style    StyleDrop-like: STUNet spatial layers only, on "outline"-style clips;
           stored as a delta on the STUNet spatial weights
  stunet2  the STUNet continues (long budget); the style is exported as
           current base + delta, so it follows the base (task-arithmetic style)

Every step is a pure function of (stage seed, step): data from data.make_batch,
noise/timesteps/tasks from a torch.Generator seeded with the step. The
checkpoint is written atomically every --save-every seconds and at stage ends,
so the process can be killed at any moment and resumed with the same command.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import ckpt as ck_io
import device_batches
from data import FRAMES, make_batch
from models.unet import inflate, spatial_param_names
from resample import downsample_video, upsample_lowres
from schedule import AC, T
from tasks import make_condition
from tokenizer import encode_batch

HERE = os.path.dirname(os.path.abspath(__file__))

STAGES = [
    # name      steps   lr     batch  seed
    ("t2i", 900, 3e-4, 32, 1),      # batch = frames (16 clips x 2 frames)
    ("stunet", 700, 2e-4, 4, 2),
    ("ssr", 300, 3e-4, 4, 3),
    ("style", 200, 1e-4, 4, 4),
    ("stunet2", 40000, 2e-4, 4, 5),
]
CFG_DROP = 0.10  # share of empty captions, so classifier-free guidance works
KNOWN_WEIGHT = 8.0  # extra loss weight of known (conditioning) pixels in the STUNet stages, see loss_video
FOREGROUND_WEIGHT = 0.0  # extra loss weight of the pixels an object covers in any frame (6 from stunet2 step 8,927 to 12,175; 0 after: no gain, I2V cost), see foreground_weight
# From this stunet2 step on, each of left/right/up/down is drawn TRANSLATION_WEIGHT times as often as each
# other motion (73% of objects translate instead of 57%): the direction word was the one the STUNet ignored
# (probe: -0.24% loss change when it is reversed, step 27,761), and only translating objects teach it.
TRANSLATION_WEIGHT, TRANSLATION_WEIGHT_FROM = 2.0, 28_300
# From this stunet2 step on, the data stream leans towards the cases the 216-clip evaluation of step 31,200 got
# wrong (tests/quality/results/latest.md): every translation miss turned a horizontal motion into a vertical
# one ("right" went up or down in 5 of 36 clips, "left" in 2 of 16; up and down 59 of 60 right), all on a navy or
# gray background (black: 0 of 20 horizontal clips wrong), and the top-of-schedule probe (`probe.py
# --direction-grid`) reads the direction word's weight on gray and navy at roughly half of black's. So left and
# right are drawn 3x as often as each non-translation (up and down stay at 2x), and navy and gray 1.5x as often
# as black: horizontal translations 48% of the objects instead of 39%, gray or navy backgrounds 73% instead of 65%
# (4,000 clips of each stream, seed 5).
HARD_MOTION_WEIGHTS = {"left": 3.0, "right": 3.0, "up": 2.0, "down": 2.0}
HARD_BACKGROUND_WEIGHTS = {"black": 1.0, "gray": 1.5, "navy": 1.5}
HARD_MIX_FROM = 31_200
# From this stunet2 step on, a share HIGH_NOISE_P of the clips draw t from [HIGH_NOISE_T, T) instead of [0, T).
# Why: the direction of a translation is only undecided by x_t itself at the very top of the schedule. A
# 16-frame path of a ~45-pixel object is a matched-filter target: at t = 950 (sqrt(alpha_bar) = 0.076) it
# still stands ~4 sigma out of the noise, so below ~t 970 the net reads the direction off x_t and the word
# is redundant. The sampler decides the direction at its first steps (999, 946 at 20 steps), but under a
# uniform t only ~0.6% of the clips (t2v x translating x t > 975) ever taught the word; there a direction-
# aware prediction is 10% better than a direction-blind one (33% when reversed, training/README.md), i.e.
# ~3e-5 of a 0.0124 loss: lost in the gradient noise, and after 28,409 steps the direction was still
# ignored at t = 975-999 (probe: +0.1%).
HIGH_NOISE_P, HIGH_NOISE_T, HIGH_NOISE_FROM = 0.3, 940, 28_409
# From the same step, the caption-to-position pathways (per-frame text slopes and per-frame text embedding)
# learn FAST_LR_MULT times faster than the rest (the optimizer's update of those weights is scaled, which
# under Adam with no weight decay is a per-parameter learning rate, and keeps the optimizer state's layout).
# A focused run (t2v, translations, t >= 960) raised the direction gap 0.1 -> 0.9% in 45 steps with these
# at 1e-3, and to only 0.13% in 60 steps with the whole net at 2e-4.
FAST_PREFIXES, FAST_LR_MULT = ("text_coord_tok.", "text_coord_in.", "text_coord.", "text_frames_in.",
                               "text_frames_out."), 5.0
# Extra loss weight of the pixels on an object's edge, frame by frame (--edge-weight; 0 = off, the recipe up to
# stunet2 step 31,200). Why: issue #23 found the shipped model's squares at 0.74-0.86 IoU against a square
# template and its triangles turning into blobs during the clip (the full evaluation: edge sharpness 0.82 against
# the ground truth's 0.996), while the edge band is 7% of a batch's pixels and a soft edge costs a plain MSE
# little. See edge_map.
EDGE_THRESHOLD = 0.25  # a pixel is on an edge when it differs from a 4-neighbour by more than this (of 2)
WARMUP = 50
SSR_FRAMES = 8

AC_T = torch.tensor(AC, dtype=torch.float32)


def log(path, msg):
    line = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " " + msg
    print(line, flush=True)
    with open(path, "a") as f:
        f.write(line + "\n")


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def noise_and_target(x0, g, high_p: float = 0.0):
    """Sample t, eps; return (x_t, t_float, v_target). high_p: share of clips whose t is drawn from
    [HIGH_NOISE_T, T) (0: uniform, drawing exactly what the stream always drew)."""
    b = x0.shape[0]
    t = torch.randint(0, T, (b,), generator=g)
    if high_p > 0:
        high = torch.randint(HIGH_NOISE_T, T, (b,), generator=g)
        t = torch.where(torch.rand(b, generator=g) < high_p, high, t)
    eps = torch.randn(x0.shape, generator=g)
    a = AC_T[t].reshape(b, *([1] * (x0.dim() - 1)))
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    v = a.sqrt() * eps - (1 - a).sqrt() * x0
    return xt, t.float(), v


def foreground_weight(x0):
    """1 on every pixel an object covers in any frame of the clip (its whole path), 0 elsewhere; [B,1,1,H,W].

    Why: shape and motion live in a few object pixels, so under a plain MSE the background dominates the
    loss and the model learnt to ignore the shape and motion words (training/probe.py measured < 0.1% loss
    change when they are swapped). Weighting the path, not just the object in each frame, also makes a blob
    that stays where the object was at frame 0 cost what it should. Background = the clip's median colour
    (an object covers well under half the frame)."""
    b, c = x0.shape[:2]
    bg = x0.reshape(b, c, -1).median(dim=2).values.reshape(b, c, 1, 1, 1)
    covered = ((x0 - bg).abs().amax(dim=1, keepdim=True) > 0.1).float()  # [B,1,F,H,W]
    return covered.amax(dim=2, keepdim=True)


def edge_map(x0):
    """1 on every pixel that differs from one of its 4 neighbours (any channel) by > EDGE_THRESHOLD in the same
    frame, else 0; [B,1,F,H,W]. Anti-aliased shape edges at 32x32 are 1-2 px wide, so this marks the band that
    tells a square from a circle and a triangle from a blob, in every frame (not the object's whole path)."""
    d = torch.zeros_like(x0[:, :1])
    dy = (x0[..., 1:, :] - x0[..., :-1, :]).abs().amax(dim=1, keepdim=True) > EDGE_THRESHOLD
    dx = (x0[..., :, 1:] - x0[..., :, :-1]).abs().amax(dim=1, keepdim=True) > EDGE_THRESHOLD
    d[..., 1:, :] += dy
    d[..., :-1, :] += dy
    d[..., :, 1:] += dx
    d[..., :, :-1] += dx
    return (d > 0).float()


def drop_captions(caps, g):
    keep = torch.rand(len(caps), generator=g) >= CFG_DROP
    return [c if k else "" for c, k in zip(caps, keep.tolist())]


class Trainer:
    def __init__(self, args, rank=0, world=1):
        self.args = args
        # Data-parallel workers (--workers): every rank holds the same weights and optimizer state, trains
        # on its own data stream, and gradients are averaged each step; rank 0 alone logs, saves, exports.
        self.rank, self.world = rank, world
        self.parent = os.getppid()
        self.ckpt_path = args.ckpt
        self.log_path = args.log
        self.device = torch.device(args.device)
        self.started = time.time()
        ck = ck_io.load(self.ckpt_path)
        self.models, style = ck_io.models_from_checkpoint(ck)
        for m in self.models.values():
            m.to(self.device)
        self.ck = ck or {"format": "kinegraph-train-v1", "stage": STAGES[0][0], "step": 0,
                         "weights": {"text": None, "t2i": None, "stunet": None, "ssr": None},
                         "style_delta": None, "opt": None, "stats": {}}
        self.have = {k for k, sd in self.ck["weights"].items() if sd is not None}
        self.style_model = None
        if style is not None:
            self.style_model = ck_io.build_all()["stunet"]
            self.style_model.load_state_dict(style)
            self.style_model.to(self.device)
        self.stop = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, *_):
        self.stop = True  # finish the current step, save, exit

    def log(self, msg):
        if self.rank == 0:
            log(self.log_path, msg)

    # ---- per-stage setup -------------------------------------------------------
    def setup(self, name):
        m = self.models
        if name == "t2i":
            m["text"].train()
            m["t2i"].train()
            self.have |= {"text", "t2i"}
            return list(m["text"].parameters()) + list(m["t2i"].parameters()), self.loss_t2i
        if name in ("stunet", "stunet2"):
            if "stunet" not in self.have:
                inflate(m["stunet"], m["t2i"])
                self.have.add("stunet")
            m["text"].eval()
            m["stunet"].train()
            return list(m["stunet"].parameters()), lambda s, g, b, seed: self.loss_video(m["stunet"], s, g, b, seed, "solid")
        if name == "ssr":
            m["ssr"].train()
            self.have.add("ssr")
            return list(m["ssr"].parameters()), self.loss_ssr
        if name == "style":
            if self.style_model is None:
                self.style_model = ck_io.build_all()["stunet"].to(self.device)
                self.style_model.load_state_dict(m["stunet"].state_dict())
            sm = self.style_model
            spatial = set(spatial_param_names(sm, m["t2i"]))
            params = []
            for n, p in sm.named_parameters():
                p.requires_grad_(n in spatial)
                if n in spatial:
                    params.append(p)
            sm.train()
            return params, lambda s, g, b, seed: self.loss_video(sm, s, g, b, seed, "outline")
        raise ValueError(name)

    @torch.no_grad()
    def encode(self, caps):
        return self.models["text"](torch.from_numpy(encode_batch(caps)).to(self.device))

    def loss_t2i(self, step, g, batch, seed):
        caps, _, lo = make_batch(seed, step, batch // 2)
        lo = torch.from_numpy(lo)  # [b, 3, F, 32, 32]
        fidx = torch.randint(0, FRAMES, (lo.shape[0], 2), generator=g)
        x0 = torch.stack([lo[i, :, f] for i in range(lo.shape[0]) for f in fidx[i].tolist()])
        caps = drop_captions([c for c in caps for _ in range(2)], g)
        ctx = self.models["text"](torch.from_numpy(encode_batch(caps)))  # trained jointly
        xt, t, v = noise_and_target(x0, g)
        return F.mse_loss(self.models["t2i"](xt, t, ctx), v)

    def loss_video(self, net, step, g, batch, seed, style):
        caps, _, lo = make_batch(seed, step, batch, style=style, **self.data_mix(step))
        x0 = torch.from_numpy(lo)
        target, cond, mask, _ = make_condition(x0, g)
        ctx = self.encode(drop_captions(caps, g))  # text encoder frozen after stage 1
        high = self.stage == "stunet2" and step >= HIGH_NOISE_FROM
        xt, t, v = noise_and_target(target, g, HIGH_NOISE_P if high else 0.0)
        xt, t, v, cond, mask, target = (a.to(self.device) for a in (xt, t, v, cond, mask, target))
        return self.weighted_loss(net, xt, t, v, cond, mask, target, ctx)

    def data_mix(self, step):
        """The motion and background weights of the data stream at this step (see HARD_MIX_FROM)."""
        if self.stage != "stunet2" or step < TRANSLATION_WEIGHT_FROM:
            return {}
        if step < HARD_MIX_FROM:
            return {"translation_weight": TRANSLATION_WEIGHT}
        return {"motion_weights": HARD_MOTION_WEIGHTS, "background_weights": HARD_BACKGROUND_WEIGHTS}

    def loss_video_device(self, net, step, item):
        """loss_video on a batch made for an accelerator (device_batches): the worker processes drew what each
        clip shows, its caption tokens and its task; the clips are rendered here, on the device, and the
        timesteps and noise are drawn here too, from a generator seeded with the step."""
        if int(item["step"]) != step:
            raise RuntimeError(f"data loader out of step: got batch {int(item['step'])} for step {step}")
        dev = self.device
        x0 = device_batches.downsample(device_batches.render(
            item["objects"].to(dev, non_blocking=True), item["colours"].to(dev, non_blocking=True),
            item["background"].to(dev, non_blocking=True)))
        target, cond, mask = device_batches.conditions(x0, item["tasks"].to(dev), item["boxes"].to(dev))
        with torch.no_grad():
            ctx = self.models["text"](item["tokens"].to(dev, non_blocking=True))
        g = torch.Generator(device=dev).manual_seed(self.step_seed * 1_000_003 + step)
        b = x0.shape[0]
        t = torch.randint(0, T, (b,), generator=g, device=dev)
        if self.stage == "stunet2" and step >= HIGH_NOISE_FROM:
            high = torch.randint(HIGH_NOISE_T, T, (b,), generator=g, device=dev)
            t = torch.where(torch.rand(b, generator=g, device=dev) < HIGH_NOISE_P, high, t)
        eps = torch.randn(target.shape, generator=g, device=dev)
        a = self.ac_t[t].reshape(b, 1, 1, 1, 1)
        xt = a.sqrt() * target + (1 - a).sqrt() * eps
        v = a.sqrt() * eps - (1 - a).sqrt() * target
        return self.weighted_loss(net, xt, t.float(), v, cond, mask, target, ctx)

    def weighted_loss(self, net, xt, t, v, cond, mask, target, ctx):
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.args.bf16):
            pred = net(torch.cat([xt, cond, mask], dim=1), t, ctx)
        pred = pred.float()
        # Known pixels (I2V's first frame, what inpainting and cinemagraphs keep) weigh KNOWN_WEIGHT + 1
        # times as much: reproducing them is what the conditioned tasks are judged on, and with a plain
        # MSE they are a small share of the loss. Normalised so the loss stays on the plain MSE's scale.
        w = 1.0 + KNOWN_WEIGHT * mask + FOREGROUND_WEIGHT * foreground_weight(target)
        if self.args.edge_weight:
            w = w + self.args.edge_weight * edge_map(target)
        return ((pred - v) ** 2 * w).mean() / w.mean()

    def loss_ssr(self, step, g, batch, seed):
        _, hi, _ = make_batch(seed, step, batch)
        hi = torch.from_numpy(hi)
        s = int(torch.randint(0, FRAMES - SSR_FRAMES + 1, (1,), generator=g))
        x0 = hi[:, :, s:s + SSR_FRAMES]  # [b, 3, 8, 64, 64]
        cond = upsample_lowres(downsample_video(x0))
        xt, t, v = noise_and_target(x0, g)
        return F.mse_loss(self.models["ssr"](torch.cat([xt, cond], dim=1), t), v)

    # ---- checkpointing ---------------------------------------------------------
    # ---- weight EMA (STUNet stages) -----------------------------------------------
    def start_ema(self, name):
        """The running average of the STUNet weights, resumed from checkpoints/ema.pt when it belongs to
        this model, else started from the current weights. Only rank 0 keeps it (all ranks hold the same
        weights)."""
        if self.rank != 0 or self.args.ema <= 0 or name not in ("stunet", "stunet2"):
            return None
        net = self.models["stunet"]
        saved = ck_io.load_ema(self.ckpt_path, ck=self.ck)
        if saved is not None and saved.get("decay") == self.args.ema:
            ema = saved
            ema["weights"] = {k: v.float().to(self.device) for k, v in saved["weights"].items()}
            for k, v in net.state_dict().items():  # parameters added since the average was saved
                ema["weights"].setdefault(k, v.detach().clone().float())
            self.log(f"weight EMA: resumed ({ema['updates']} updates, decay {ema['decay']})")
        else:
            ema = {"decay": self.args.ema, "updates": 0, "weights": {k: v.detach().clone().float() for k, v in net.state_dict().items()}}
            self.log(f"weight EMA: started (decay {self.args.ema})")
        self.ema = ema
        return ema

    @torch.no_grad()
    def update_ema(self, ema, step):
        # Warm-up as is usual for EMAs of weights: early on the average must not cling to the start.
        n = ema["updates"] = ema["updates"] + 1
        d = min(ema["decay"], (1 + n) / (10 + n))
        ws, vs = [], []
        for k, v in self.models["stunet"].state_dict().items():
            w = ema["weights"][k]
            if v.dtype.is_floating_point:
                ws.append(w)
                vs.append(v)
            else:
                w.copy_(v)
        # One fused call per operation instead of two per tensor (~800 kernel launches a step on a GPU).
        torch._foreach_mul_(ws, d)
        torch._foreach_add_(ws, vs, alpha=1 - d)
        ema["step"] = step

    def save_ema(self, stage, step):
        ema = getattr(self, "ema", None)
        if ema is None or self.rank != 0:
            return
        ema["stage"], ema["step"] = stage, step
        ck_io.save(ck_io.ema_path(self.ckpt_path), ema)

    def snapshot(self, stage, step, opt):
        if self.rank != 0:
            return
        self.save_ema(stage, step)
        w = self.ck["weights"]
        for k in self.have:  # only models that were loaded or set up (never save an uninflated STUNet)
            w[k] = self.models[k].state_dict()
        if stage == "style" and self.style_model is not None:
            # The delta is only (re)computed while the style is trained; afterwards it
            # stays fixed and is re-applied to the evolving base at export time.
            base = self.models["stunet"].state_dict()
            names = spatial_param_names(self.style_model, self.models["t2i"])
            sd = self.style_model.state_dict()
            self.ck["style_delta"] = {n: (sd[n] - base[n]).half() for n in names}
        self.ck["stage"], self.ck["step"] = stage, step
        self.ck["opt"] = None if opt is None else {"stage": stage, "state": ck_io.pack_optimizer(opt)}
        ck_io.embed_ema(self.ck, getattr(self, "ema", None))
        ck_io.save(self.ckpt_path, self.ck, compress=True)
        write_progress(self.ck, self.args.progress)

    # ---- main loop ---------------------------------------------------------------
    def run(self):
        names = [s[0] for s in STAGES]
        idx = names.index(self.ck["stage"])
        for name, steps, lr, batch, seed in STAGES[idx:]:
            steps = min(max(1, int(steps * self.args.steps_scale)), self.args.max_steps)
            start = self.ck["step"] if self.ck["stage"] == name else 0
            if start < steps:
                self.train_stage(name, start, steps, lr, batch, seed)
                if self.stop:
                    return
            nxt = names.index(name) + 1
            if nxt < len(names):
                self.snapshot(names[nxt], 0, None)
                self.log(f"stage {name} done -> {names[nxt]}")
                if self.args.export_after_stage:
                    self.export()
            else:
                self.snapshot(name, steps, None)
        self.log("all stages done")

    def export(self):
        if self.rank != 0:
            return
        cmd = [sys.executable, os.path.join(HERE, "export.py"), "--ckpt", self.ckpt_path]
        r = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
        tail = (r.stdout if r.returncode == 0 else r.stdout + r.stderr).strip().splitlines()[-3:]
        self.log(f"export rc={r.returncode}: " + " | ".join(tail))

    def average_gradients(self, params, loss_value):
        """One all-reduce per step carries every gradient, the loss and the stop flag: the mean gradient keeps
        the ranks' weights identical, and a signal on any rank stops them all at the same step."""
        if os.getppid() != self.parent:
            self.stop = True  # the launcher is gone: stop rather than train on unsupervised
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([gr.reshape(-1) for gr in grads] + [torch.tensor([loss_value, float(self.stop)])])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p, gr in zip(params, grads):
            n = gr.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n
        self.stop = bool(flat[-1] > 0)
        return float(flat[-2])

    def broadcast_weights(self):
        """Rank 0's weights to every rank: fresh models are initialised at random in each process."""
        models = list(self.models.values()) + ([self.style_model] if self.style_model is not None else [])
        with torch.no_grad():
            for model in models:
                for tensor in model.state_dict().values():
                    dist.broadcast(tensor, 0)

    def train_stage(self, name, start, steps, lr, batch, seed):
        self.stage = name
        params, loss_fn = self.setup(name)
        if self.args.batch and name == "stunet2":
            batch = self.args.batch
        if self.args.lr and name == "stunet2":
            lr = self.args.lr
        if self.args.device_batches:
            if name not in ("stunet", "stunet2"):
                raise SystemExit(f"--device-batches: stage {name} has none (only the STUNet stages)")
            net = self.models["stunet"]
            self.step_seed = seed + 100_003 * self.rank
            data = device_batches.SpecBatches(self.step_seed, batch, cfg_drop=CFG_DROP, **self.data_mix(start))
            workers = self.args.data_workers
            loader = iter(torch.utils.data.DataLoader(
                data, batch_size=None, sampler=range(start, steps), num_workers=workers,
                pin_memory=self.device.type == "cuda", **({"prefetch_factor": 8} if workers else {})))
            self.ac_t = AC_T.to(self.device)
            loss_fn = lambda s, g, b, sd: self.loss_video_device(net, s, next(loader))  # noqa: E731
        if self.world > 1:
            self.broadcast_weights()
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        o = self.ck.get("opt")
        if start > 0 and o and o["stage"] == name:
            ck_io.unpack_optimizer(opt, o["state"])
        stats = self.ck["stats"].setdefault(name, {"steps": 0, "loss": None, "s_per_step": None, "wall_s": 0.0,
                                                    "budget": steps, "batch": batch})
        stats["budget"] = steps
        stats["batch"] = batch * self.world
        self.log(f"stage {name}: resume at step {start}/{steps} "
                 f"({sum(p.numel() for p in params)} trainable params, batch {batch} x {self.world} worker(s), lr {lr})")
        # Rank 0 sees exactly the stream a single-process run sees; other ranks draw from their own seeds.
        rseed = seed + 100_003 * self.rank
        last_save = last_export = time.time()
        acc, n_acc, t_acc = 0.0, 0, 0.0
        ema = self.start_ema(name)
        for step in range(start, steps):
            t0 = time.time()
            for gr in opt.param_groups:
                gr["lr"] = lr * min(1.0, (step + 1) / WARMUP)
            g = step_generator(rseed, step)
            loss = loss_fn(step, g, batch, rseed)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            loss_value = loss.item()
            if self.world > 1:
                loss_value = self.average_gradients(params, loss_value)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            fast = self.fast_params(name, step)
            before = [p.detach().clone() for p in fast]
            opt.step()
            with torch.no_grad():
                for p, b in zip(fast, before):
                    p.add_(p - b, alpha=FAST_LR_MULT - 1)
            if ema is not None:
                self.update_ema(ema, step + 1)
            dt = time.time() - t0
            acc, n_acc, t_acc = acc + loss_value, n_acc + 1, t_acc + dt
            stats["steps"] = step + 1
            stats["wall_s"] += dt
            stats["loss"] = loss_value if stats["loss"] is None else 0.98 * stats["loss"] + 0.02 * loss_value
            if n_acc == self.args.log_every or step + 1 == steps:
                stats["s_per_step"] = t_acc / n_acc
                self.log(f"stage={name} step={step + 1}/{steps} loss={acc / n_acc:.4f} "
                         f"ema={stats['loss']:.4f} s/step={t_acc / n_acc:.3f} clips/s={n_acc * batch * self.world / t_acc:.0f}")
                acc, n_acc, t_acc = 0.0, 0, 0.0
            if self.out_of_time() and not self.stop:
                self.stop = True
                self.log(f"time budget reached at {name} step {step + 1}")
            if self.stop or time.time() - last_save > self.args.save_every:
                self.snapshot(name, step + 1, opt)
                last_save = time.time()
                if self.stop:
                    self.log(f"stopped at {name} step {step + 1} (signal or time budget); checkpoint saved")
                    return
                if self.args.export_after_stage and time.time() - last_export > self.args.export_every:
                    self.export()  # keeps the pack fresh during the open-ended last stage
                    last_export = time.time()
        self.snapshot(name, steps, opt)
        if self.world > 1:
            self.check_in_sync(name, params)

    def out_of_time(self):
        now = time.time()
        return bool((self.args.time_budget and now - self.started > self.args.time_budget)
                    or (self.args.stop_at and now > self.args.stop_at))

    def fast_params(self, name, step):
        """The parameters whose update is scaled by FAST_LR_MULT at this step (see FAST_PREFIXES)."""
        if name != "stunet2" or step < HIGH_NOISE_FROM:
            return []
        return [p for n, p in self.models["stunet"].named_parameters() if n.startswith(FAST_PREFIXES)]

    def check_in_sync(self, name, params):
        """The ranks' weights must be bit-identical (same start, same averaged gradients): checked at each
        stage end, so a divergence stops the run instead of training an average of different models."""
        probe = torch.stack([torch.cat([p.detach().reshape(-1) for p in params]).double().sum()])
        low, high = probe.clone(), probe.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        if float(high - low) != 0.0:
            raise RuntimeError(f"stage {name}: data-parallel workers diverged (weight sums {float(low)} vs {float(high)})")
        self.log(f"stage {name}: {self.world} workers in sync (weight sum {float(high):.6f})")


def write_progress(ck, path):
    lines = ["# Training progress", "",
             f"Updated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
             f"Current stage: **{ck['stage']}**, step {ck['step']}.", "",
             "| stage | steps done / budget | batch | loss (EMA, v-pred MSE) | s/step (last 10 steps) | wall time in stage |",
             "|---|---|---|---|---|---|"]
    for name, *_ in STAGES:
        s = ck["stats"].get(name)
        if not s:
            lines.append(f"| {name} | 0 | | | | |")
            continue
        loss = f"{s['loss']:.4f}" if s["loss"] is not None else ""
        sps = f"{s['s_per_step']:.2f}" if s["s_per_step"] else ""
        lines.append(f"| {name} | {s['steps']} / {s['budget']} | {s['batch']} | {loss} | {sps} | "
                     f"{s['wall_s'] / 60:.1f} min |")
    lines += ["", "Written by train.py at every checkpoint save. Full log: training/runs/log.txt (gitignored).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=ck_io.CKPT)
    ap.add_argument("--log", default=os.path.join(HERE, "runs", "log.txt"))
    ap.add_argument("--progress", default=os.path.join(HERE, "PROGRESS.md"))
    ap.add_argument("--save-every", type=float, default=180.0, help="seconds between checkpoints")
    ap.add_argument("--export-every", type=float, default=1800.0,
                    help="seconds between pack exports inside a stage (at a checkpoint save)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage budget")
    ap.add_argument("--max-steps", type=int, default=10**9, help="cap every stage budget")
    # 1 thread: on this shared 2-core box, 2 threads were 3x SLOWER under concurrent load
    # (8.5 vs 2.5 s/step for the STUNet; OpenMP barriers stall when a core is taken).
    ap.add_argument("--threads", type=int, default=1)
    # Data-parallel processes, one torch thread each: on CPU, separate processes scale where torch's own
    # threads do not (small convolutions, OpenMP barriers). The effective batch is the stage batch x workers.
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--port", type=int, default=29517, help="local TCP port the workers meet on")
    ap.add_argument("--ema", type=float, default=0.999,
                    help="decay of the STUNet weight average the export uses (0: off); saved to checkpoints/ema.pt")
    ap.add_argument("--no-export", dest="export_after_stage", action="store_false",
                    help="do not run export.py after each stage")
    ap.add_argument("--smoke", action="store_true", help="tiny budgets into /tmp (pipeline test)")
    # An accelerator (training/README.md, "Training on a GPU"): the device, its batch and its data feed.
    ap.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda)")
    ap.add_argument("--batch", type=int, default=0, help="stunet2 clips per step and worker (0: the stage's 4)")
    ap.add_argument("--lr", type=float, default=0.0, help="stunet2 learning rate (0: the stage's)")
    ap.add_argument("--device-batches", action="store_true",
                    help="STUNet stages: render the clips with torch on --device (device_batches.py) instead of "
                         "the numpy stream")
    ap.add_argument("--data-workers", type=int, default=0,
                    help="with --device-batches: DataLoader processes that draw the batches (0: this process)")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the STUNet's forward pass")
    ap.add_argument("--edge-weight", type=float, default=0.0,
                    help="extra loss weight of object-edge pixels (see edge_map; 0: off)")
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="seconds after start at which to stop after the current step and save (0: none)")
    ap.add_argument("--stop-at", type=float, default=0.0,
                    help="Unix time at which to stop after the current step and save (0: none); for a run that "
                         "must end inside a fixed window whatever happened before it")
    args = ap.parse_args()
    if args.smoke:
        # A folder of its own: the weight average is written beside the checkpoint (ema.pt).
        args.ckpt, args.log, args.progress = "/tmp/kg_smoke/latest.pt", "/tmp/kg_smoke/log.txt", "/tmp/kg_smoke/PROGRESS.md"
        args.max_steps, args.log_every, args.export_after_stage = 3, 1, False
    os.makedirs(os.path.dirname(args.ckpt), exist_ok=True)
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if args.workers <= 1:
        torch.set_num_threads(args.threads)
        Trainer(args).run()
        return
    ctx = mp.spawn(worker_main, args=(args,), nprocs=args.workers, join=False)

    def forward(signum, _frame):
        # Every worker finishes its step; the all-reduce spreads the stop, rank 0 saves.
        for proc in ctx.processes:
            if proc.is_alive():
                os.kill(proc.pid, signum)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while not ctx.join():
        pass


def worker_main(rank, args):
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank, world_size=args.workers)
    try:
        Trainer(args, rank, args.workers).run()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
