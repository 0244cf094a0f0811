"""Reference samplers (DDIM with eta, Euler, DPM++ 2M) over the cosine schedule,
for a v-prediction model. The TS runtime must match these (same initial noise
-> agree within 1e-3); `python3 sample.py fixture` writes a JSON fixture.

Conventions (also in manifest.json -> "sampling"):
* timesteps(N) = round(linspace(T-1, 0, N)) as integers, descending ("linspace"
  spacing, first step at t=999). After the last model call the sampler steps to
  "t = -1", i.e. alphas_cumprod = 1 (clean image).
* alpha_t = sqrt(ac_t), sigma_t = sqrt(1 - ac_t) (variance preserving state x_t).
* from v: x0 = alpha x - sigma v,  eps = sigma x + alpha v.
* All coefficients in float64.
* CFG on the prediction: v = v_uncond + s (v_cond - v_uncond); uncond = "" caption.

Samplers (state always x_t in VP space):
* ddim(eta): sig = eta sqrt((1-a')/(1-a)) sqrt(1 - a/a');
  x' = sqrt(a') x0 + sqrt(1 - a' - sig^2) eps + sig z     (z ~ N(0,1) given per step)
* euler: Euler on the probability-flow ODE in the VE variable x~ = x/alpha,
  s = sigma/alpha: x~' = x~ + (s' - s)(x~ - x0)/s; x' = alpha' x~'.
  (Mathematically identical to ddim(eta=0); kept as its own code path.)
* dpmpp_2m: DPM-Solver++(2M) (Lu et al. 2022; k-diffusion sample_dpmpp_2m),
  lambda = log(alpha/sigma), h = lambda' - lambda:
  D = x0 on the first step and on the last step (t' = -1), otherwise
  D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev with r = h_prev / h;
  x' = (sigma'/sigma) x - alpha' expm1(-h) D      (last step: x' = x0).
"""
from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np
import torch

import ckpt as ck_io
from resample import upsample_lowres
from schedule import AC, T
from strips import save_strip
from tokenizer import encode_batch

HERE = os.path.dirname(os.path.abspath(__file__))

SAMPLERS = ("ddim", "euler", "dpmpp_2m")


def timesteps(n: int) -> np.ndarray:
    return np.round(np.linspace(T - 1, 0, n)).astype(np.int64)


def ac_at(t: int) -> float:
    return 1.0 if t < 0 else float(AC[t])


def split_v(x, v, a):
    al, si = math.sqrt(a), math.sqrt(1 - a)
    return al * x - si * v, si * x + al * v  # x0, eps


class Sampler:
    """Stateful one-step-at-a-time sampler: call step(x, t, t_prev, v, z) in order."""

    def __init__(self, kind: str, eta: float = 0.0):
        assert kind in SAMPLERS, kind
        self.kind, self.eta = kind, eta
        self.prev_x0, self.prev_h = None, None

    def step(self, x, t: int, t_prev: int, v, z=None):
        a, ap = ac_at(t), ac_at(t_prev)
        x0, eps = split_v(x, v, a)
        if self.kind == "ddim":
            sig = 0.0
            if self.eta > 0 and t_prev >= 0:
                sig = self.eta * math.sqrt((1 - ap) / (1 - a)) * math.sqrt(1 - a / ap)
            out = math.sqrt(ap) * x0 + math.sqrt(max(1 - ap - sig * sig, 0.0)) * eps
            return out + sig * z if sig > 0 else out
        if self.kind == "euler":
            s, sp = math.sqrt((1 - a) / a), math.sqrt((1 - ap) / ap)
            xv = x / math.sqrt(a)
            xv = xv + (sp - s) * (xv - x0) / s
            return math.sqrt(ap) * xv
        # dpmpp_2m
        if t_prev < 0:
            self.prev_x0 = x0
            return x0
        al, si = math.sqrt(a), math.sqrt(1 - a)
        alp, sip = math.sqrt(ap), math.sqrt(1 - ap)
        h = math.log(alp / sip) - math.log(al / si)
        d = x0
        if self.prev_x0 is not None:
            r = self.prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self.prev_x0
        self.prev_x0, self.prev_h = x0, h
        return (sip / si) * x - alp * math.expm1(-h) * d


def sample(model_v, x_T, kind="ddim", steps=25, eta=0.0, noise_fn=None):
    """model_v(x, t_int) -> v prediction (any array type supporting arithmetic).
    noise_fn(i) -> z for ddim eta>0 (same shape as x)."""
    ts = timesteps(steps)
    s = Sampler(kind, eta)
    x = x_T
    for i, t in enumerate(ts):
        t_prev = int(ts[i + 1]) if i + 1 < len(ts) else -1
        z = noise_fn(i) if (noise_fn is not None and kind == "ddim" and eta > 0) else None
        x = s.step(x, int(t), t_prev, model_v(x, int(t)), z)
    return x


def write_fixture(path: str, steps: int = 6, n: int = 8, seed: int = 0) -> None:
    """Sampler-parity fixture: fixed 'model predictions' per step (independent of x,
    so the TS side needs no model), initial x_T, per-step noise z, and the float64
    reference states after every step, for each sampler."""
    rng = np.random.default_rng(seed)
    x_T = rng.standard_normal(n)
    vs = rng.standard_normal((steps, n)) * 0.8
    zs = rng.standard_normal((steps, n))
    ts = timesteps(steps)
    out = {"T": T, "num_inference_steps": steps, "timesteps": ts.tolist(), "prediction_type": "v_prediction",
           "alphas_cumprod": [float(a) for a in AC], "x_T": x_T.tolist(), "v_per_step": vs.tolist(),
           "z_per_step": zs.tolist(), "runs": []}
    for kind, eta in (("ddim", 0.0), ("ddim", 1.0), ("euler", 0.0), ("dpmpp_2m", 0.0)):
        s, x, states = Sampler(kind, eta), x_T.copy(), []
        for i, t in enumerate(ts):
            t_prev = int(ts[i + 1]) if i + 1 < len(ts) else -1
            x = s.step(x, int(t), t_prev, vs[i], zs[i])
            states.append(x.tolist())
        out["runs"].append({"sampler": kind, "eta": eta, "x_after_step": states})
    with open(path, "w") as f:
        json.dump(out, f)


# ---- sanity run with the trained torch models ---------------------------------

def generate(ck_path=None, prompts=None, model="stunet", kind="ddim", steps=25, cfg=3.0, seed=0,
             style_alpha=0.0, ssr=False, out="runs/sample.png", weights="auto"):
    """Text-to-video with the torch STUNet (optionally style-interpolated and
    super-resolved) and save a PNG strip (rows = prompts, cols = frames) + GIF.
    model="t2i": 16 independent T2I images per prompt instead;
    model="i2v": T2I makes frame 0, the STUNet animates it (the text->image->video workflow)."""
    torch.set_num_threads(1)  # see train.py --threads: 1 thread is faster on the shared box
    ck = ck_io.load(ck_path or ck_io.CKPT)
    # The same STUNet weights the export picks with the same --weights (auto: the EMA once it has averaged
    # 500 steps).
    ema = None if weights == "raw" else ck_io.load_ema(ck_path or ck_io.CKPT, min_updates=0 if weights == "ema" else 500)
    models, style = ck_io.models_from_checkpoint(ck, ema)
    net = models["stunet"].eval()
    if model == "t2i":
        net = T2IAsVideo(models["t2i"].eval())
    if style_alpha and style is not None:
        base = net.state_dict()
        net.load_state_dict({k: (1 - style_alpha) * base[k] + style_alpha * style[k] for k in base})
    prompts = prompts or ["a red circle moving right on a black background",
                          "a green square moving down on a gray background",
                          "a yellow triangle moving left on a black background"]  # last one is held out
    b = len(prompts)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ctx = models["text"](torch.from_numpy(encode_batch(prompts + [""] * b)))
        x = torch.randn(b, 3, 16, 32, 32, generator=g, dtype=torch.float32)
        cond = torch.zeros(b, 4, 16, 32, 32)
        if model == "i2v":
            # text -> image -> video: the T2I model makes frame 0, the STUNet
            # animates it (mask 1 on frame 0 = known).
            t2i = models["t2i"].eval()
            ctx1 = ctx

            def image_v(xt, t):
                v = t2i(torch.cat([xt, xt]).float(), torch.full((2 * b,), float(t)), ctx1)
                return (v[b:] + cfg * (v[:b] - v[b:])).double()

            first = sample(image_v, torch.randn(b, 3, 32, 32, generator=g).double(), kind, steps).float().clamp(-1, 1)
            cond[:, :3, 0] = first
            cond[:, 3, 0] = 1.0

        def model_v(xt, t):
            xin = torch.cat([xt, cond], 1).float()
            v = net(torch.cat([xin, xin]), torch.full((2 * b,), float(t)), ctx)
            vc, vu = v[:b], v[b:]
            return (vu + cfg * (vc - vu)).double()

        vid = sample(model_v, x.double(), kind, steps, noise_fn=lambda i: torch.randn(x.shape, generator=g).double())
        vid = vid.float().clamp(-1, 1)
        if ssr:
            up = upsample_lowres(vid)
            m = models["ssr"].eval()
            hi = []
            for s0 in (0, 8):  # two disjoint 8-frame windows (runtime blends overlapping ones)
                c = up[:, :, s0:s0 + 8]
                hi.append(sample(lambda xt, t: m(torch.cat([xt.float(), c], 1), torch.full((b,), float(t))).double(),
                                 torch.randn(c.shape, generator=g).double(), kind, steps).float())
            vid = torch.cat(hi, 2).clamp(-1, 1)
    save_strip(vid.numpy(), out)
    return vid


class T2IAsVideo:
    """Run the T2I U-Net on every frame independently (frames = independent samples)."""

    def __init__(self, t2i):
        self.t2i = t2i

    def __call__(self, x, t, ctx):
        b, _, f, h, w = x.shape
        y = self.t2i(x[:, :3].transpose(1, 2).reshape(b * f, 3, h, w), t.repeat_interleave(f),
                     ctx.repeat_interleave(f, dim=0))
        return y.reshape(b, f, 3, h, w).transpose(1, 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixture", help="write the sampler parity fixture JSON")
    fx.add_argument("--out", default=os.path.join(HERE, "fixtures", "sampler_fixture.json"))
    gen = sub.add_parser("generate", help="sanity sample from the checkpoint -> PNG strip + GIF")
    gen.add_argument("--ckpt")
    gen.add_argument("--model", default="stunet", choices=["stunet", "t2i", "i2v"])
    gen.add_argument("--prompt", action="append")
    gen.add_argument("--sampler", default="ddim", choices=SAMPLERS)
    gen.add_argument("--steps", type=int, default=25)
    gen.add_argument("--cfg", type=float, default=3.0)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--style-alpha", type=float, default=0.0)
    gen.add_argument("--ssr", action="store_true")
    gen.add_argument("--out", default=os.path.join(HERE, "runs", "sample.png"))
    gen.add_argument("--weights", choices=["auto", "ema", "raw"], default="auto", help="STUNet weights, as export.py")
    a = ap.parse_args()
    if a.cmd == "fixture":
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        write_fixture(a.out)
        print("wrote", a.out)
    else:
        generate(a.ckpt, a.prompt, model=a.model, kind=a.sampler, steps=a.steps, cfg=a.cfg, seed=a.seed,
                 style_alpha=a.style_alpha, ssr=a.ssr, out=a.out, weights=a.weights)
        print("wrote", a.out)


if __name__ == "__main__":
    main()
