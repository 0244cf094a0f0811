"""Text-to-video with the training code's STUNet and sampler in PyTorch eager: the reference Kinegraph is
compared with (bench/torch.mjs). Prints one JSON line with the sampling time (model load excluded).

    /usr/bin/python3 bench/torch_t2v.py --steps 25 --threads 2 --sampler dpmpp_2m
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import torch  # noqa: E402

import ckpt as ck_io  # noqa: E402
from sample import sample  # noqa: E402
from tokenizer import encode_batch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=25)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--sampler", default="dpmpp_2m")
ap.add_argument("--cfg", type=float, default=3.0)
ap.add_argument("--reps", type=int, default=1)
a = ap.parse_args()

torch.set_num_threads(a.threads)
models, _ = ck_io.models_from_checkpoint(ck_io.load(ck_io.CKPT))
net = models["stunet"].eval()
with torch.no_grad():
    ctx = models["text"](torch.from_numpy(encode_batch(["a blue square moving right on a gray background", ""])))
    cond = torch.zeros(1, 4, 16, 32, 32)

    def model_v(xt, t):
        xin = torch.cat([xt.float(), cond], 1)
        v = net(torch.cat([xin, xin]), torch.full((2,), float(t)), ctx)
        return (v[1:] + a.cfg * (v[:1] - v[1:])).double()

    times = []
    for r in range(a.reps):
        x = torch.randn(1, 3, 16, 32, 32, generator=torch.Generator().manual_seed(r), dtype=torch.float64)
        t0 = time.perf_counter()
        sample(model_v, x, a.sampler, a.steps)
        times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"ms": times, "steps": a.steps, "threads": a.threads, "torch": torch.__version__}))
