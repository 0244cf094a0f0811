"""Checkpoint I/O shared by train.py, export.py, sample.py and probe.py.

Checkpoint = one file, training/checkpoints/latest.pt, replaced atomically
(write tmp + os.replace) so a kill at any moment leaves the previous one intact.
Weights are fp32; the style fine-tune is stored as an fp16 *delta* on the
STUNet spatial weights; only the active stage's AdamW moments are kept, in
bfloat16 (wide exponent: exp_avg_sq does not underflow as in fp16); the STUNet
weight EMA rides along as an fp16 *delta* on the STUNet's weights (`ema`), so a
fresh clone exports and resumes the same averaged model. The committed file is
gzip-compressed to stay under 20 MB; `load` reads both forms.
"""
from __future__ import annotations

import gzip
import io
import os

import torch

from models.text_encoder import TextEncoder
from models.unet import load_weights, ssr_net, stunet, t2i_unet
from tokenizer import MAX_LEN, VOCAB

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "checkpoints", "latest.pt")
TEXT_DIM = 64


def build_all():
    return {
        "text": TextEncoder(len(VOCAB), MAX_LEN, TEXT_DIM),
        "t2i": t2i_unet(TEXT_DIM),
        "stunet": stunet(TEXT_DIM, ctx_len=MAX_LEN),
        "ssr": ssr_net(),
    }


GZIP_MAGIC = b"\x1f\x8b"


def on_cpu(obj):
    """The same structure with every tensor on the CPU: a checkpoint written on a GPU loads anywhere."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(on_cpu(v) for v in obj)
    return obj


def save(path: str, state: dict, compress: bool = False) -> None:
    """Write atomically (tmp + rename); `compress` gzips it (the committed checkpoint: fp32 weights and
    bf16 moments shrink by ~13%, which is what keeps weights + moments + EMA under 20 MB). Tensors are saved
    from the CPU, in torch's zip format, which torch 1.13 (this machine) and 2.x (a GPU machine) both read."""
    tmp = path + ".tmp"
    state = on_cpu(state)
    if compress:
        buf = io.BytesIO()
        torch.save(state, buf)
        with open(tmp, "wb") as f:
            f.write(gzip.compress(buf.getvalue(), compresslevel=6, mtime=0))
    else:
        torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: str = CKPT):
    """The checkpoint dict, or None when there is none; reads plain and gzip-compressed files."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    # weights_only=False: torch >= 2.6 defaults to True, which refuses the optimizer state's plain objects.
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


def pack_optimizer(opt: torch.optim.Optimizer) -> dict:
    sd = opt.state_dict()
    st = {}
    for k, v in sd["state"].items():
        st[k] = {n: (t.to(torch.bfloat16) if torch.is_tensor(t) and t.dim() > 0 else t) for n, t in v.items()}
    return {"state": st, "param_groups": sd["param_groups"]}


def unpack_optimizer(opt: torch.optim.Optimizer, packed: dict) -> None:
    """Restore AdamW moments. Parameters added to a model since the checkpoint (registered last, so they
    come last) start with fresh moments; anything else that does not line up is an error."""
    st = {k: {n: (t.float() if torch.is_tensor(t) and t.dim() > 0 else t) for n, t in v.items()}
          for k, v in packed["state"].items()}
    groups = [dict(g) for g in packed["param_groups"]]
    if len(groups) != len(opt.param_groups):
        raise ValueError("optimizer state has a different number of parameter groups")
    for g, live in zip(groups, opt.param_groups):
        saved, now = len(g["params"]), len(live["params"])
        if saved > now:
            raise ValueError(f"optimizer state holds {saved} parameters, the model has {now}")
        if saved < now:
            g["params"] = list(g["params"]) + list(range(max(g["params"], default=-1) + 1,
                                                         max(g["params"], default=-1) + 1 + now - saved))
    opt.load_state_dict({"state": st, "param_groups": groups})


def ema_path(ckpt_path: str = CKPT) -> str:
    """The STUNet weight EMA in full fp32, beside the checkpoint (gitignored). The checkpoint itself
    carries the same average as an fp16 delta (`embed_ema`), used where this file is missing or older."""
    return os.path.join(os.path.dirname(ckpt_path), "ema.pt")


def embed_ema(ck: dict, ema: dict | None) -> None:
    """Store the EMA record in the checkpoint as an fp16 delta on the checkpoint's own STUNet weights:
    the average sits within ~1e-3 of the weights, so the delta's fp16 rounding is ~1e-5 at most where the
    full average in fp16 would round at ~1e-3, and it costs 2.7 MB instead of 5.3."""
    raw = ck["weights"].get("stunet")
    if ema is None or raw is None:
        ck.pop("ema", None)
        return
    ck["ema"] = {
        "decay": ema["decay"], "updates": ema["updates"], "stage": ema.get("stage"), "step": ema.get("step"),
        "delta": {k: (ema["weights"][k].float() - v.float()).half() for k, v in raw.items() if k in ema["weights"]},
    }


def _embedded_ema(ck: dict | None):
    e = (ck or {}).get("ema")
    if not e:
        return None
    raw = ck["weights"]["stunet"]
    weights = {k: raw[k].float() + d.float() for k, d in e["delta"].items()}
    return {"decay": e["decay"], "updates": e["updates"], "stage": e["stage"], "step": e["step"], "weights": weights}


def load_ema(ckpt_path: str = CKPT, min_updates: int = 0, ck: dict | None = None):
    """The EMA record ({decay, updates, stage, step, weights}) when one exists and has averaged at least
    `min_updates` steps, else None: checkpoints/ema.pt (exact) unless the checkpoint's embedded copy is
    newer or that file is missing (a fresh clone). `ck`: the checkpoint, if already loaded."""
    path = ema_path(ckpt_path)
    ema = torch.load(path, map_location="cpu", weights_only=False) if os.path.exists(path) else None
    embedded = _embedded_ema(ck if ck is not None else load(ckpt_path))
    if embedded is not None and (ema is None or (embedded["step"] or 0) > (ema.get("step") or 0)):
        ema = embedded
    return ema if ema is not None and ema.get("updates", 0) >= min_updates else None


def models_from_checkpoint(ck: dict | None, ema: dict | None = None):
    """Instantiate all models and load whatever weights the checkpoint holds; with `ema` (from
    load_ema), the STUNet gets the averaged weights instead of the last step's.
    Returns (models, style_state) where style_state is the STUNet state dict with
    the style delta applied (None before the style stage)."""
    models = build_all()
    if ck is None:
        return models, None
    for name, m in models.items():
        sd = ck["weights"].get(name)
        if sd is not None:
            load_weights(m, sd)
    if ema is not None:
        load_weights(models["stunet"], ema["weights"])
    style = None
    if ck.get("style_delta"):
        style = {k: v.clone() for k, v in models["stunet"].state_dict().items()}
        for k, d in ck["style_delta"].items():
            style[k] = style[k] + d.float()
    return models, style
