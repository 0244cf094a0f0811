"""The training code's STUNet in PyTorch on the GPU, making the calls Kinegraph's sampler makes per step
(batch 2 for classifier-free guidance, [2, 7, 16, 32, 32] input, text context [2, L, 64]): per-call time in
eager fp32, timed with CUDA events after a warm-up. Weights are the architecture's initial ones: the time
does not depend on their values, and the checkpoint need not travel. Appends one JSON line to --out.

    python3 bench/gpu_torch.py --out results.jsonl --calls 50
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KINEGRAPH_ROOT", os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "training"))

import torch  # noqa: E402

from models.unet import stunet  # noqa: E402
from tokenizer import MAX_LEN  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--calls", type=int, default=50)
a = ap.parse_args()


def record(obj):
    obj["at"] = int(time.time() * 1000)
    with open(a.out, "a") as f:
        f.write(json.dumps(obj) + "\n")
    print(json.dumps(obj), flush=True)


device = "cuda" if torch.cuda.is_available() else "cpu"
net = stunet(64, ctx_len=MAX_LEN).to(device).eval()
x = torch.randn(2, 7, 16, 32, 32, device=device)
t = torch.full((2,), 500.0, device=device)
ctx = torch.randn(2, MAX_LEN, 64, device=device)
result = {"phase": "torch", "device": device, "torch": torch.__version__,
          "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None}
with torch.no_grad():
    for _ in range(5):
        net(x, t, ctx)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(a.calls):
            net(x, t, ctx)
        end.record()
        torch.cuda.synchronize()
        result["msPerCall"] = start.elapsed_time(end) / a.calls
        result["peakAllocatedMiB"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        t0 = time.perf_counter()
        for _ in range(a.calls):
            net(x, t, ctx)
        result["msPerCall"] = (time.perf_counter() - t0) * 1000 / a.calls
result["calls"] = a.calls
record(result)
