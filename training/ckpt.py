"""Checkpoint I/O shared by train.py, export.py and preview.py.

Checkpoint = one file, training/checkpoints/latest.pt, replaced atomically
(write tmp + os.replace) so a kill at any moment leaves the previous one intact.
Weights are fp32; the style fine-tune is stored as an fp16 *delta* on the
STUNet spatial weights; only the active stage's AdamW moments are kept, in
bfloat16 (wide exponent: exp_avg_sq does not underflow as in fp16).
"""
from __future__ import annotations

import os

import torch

from models.text_encoder import TextEncoder
from models.unet import ssr_net, stunet, t2i_unet
from tokenizer import MAX_LEN, VOCAB

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "checkpoints", "latest.pt")
TEXT_DIM = 64


def build_all():
    return {
        "text": TextEncoder(len(VOCAB), MAX_LEN, TEXT_DIM),
        "t2i": t2i_unet(TEXT_DIM),
        "stunet": stunet(TEXT_DIM),
        "ssr": ssr_net(),
    }


def save(path: str, state: dict) -> None:
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: str = CKPT):
    if not os.path.exists(path):
        return None
    return torch.load(path, map_location="cpu")


def pack_optimizer(opt: torch.optim.Optimizer) -> dict:
    sd = opt.state_dict()
    st = {}
    for k, v in sd["state"].items():
        st[k] = {n: (t.to(torch.bfloat16) if torch.is_tensor(t) and t.dim() > 0 else t) for n, t in v.items()}
    return {"state": st, "param_groups": sd["param_groups"]}


def unpack_optimizer(opt: torch.optim.Optimizer, packed: dict) -> None:
    st = {k: {n: (t.float() if torch.is_tensor(t) and t.dim() > 0 else t) for n, t in v.items()}
          for k, v in packed["state"].items()}
    opt.load_state_dict({"state": st, "param_groups": packed["param_groups"]})


def models_from_checkpoint(ck: dict | None):
    """Instantiate all models and load whatever weights the checkpoint holds.
    Returns (models, style_state) where style_state is the STUNet state dict with
    the style delta applied (None before the style stage)."""
    models = build_all()
    if ck is None:
        return models, None
    for name, m in models.items():
        sd = ck["weights"].get(name)
        if sd is not None:
            m.load_state_dict(sd)
    style = None
    if ck.get("style_delta"):
        style = {k: v.clone() for k, v in models["stunet"].state_dict().items()}
        for k, d in ck["style_delta"].items():
            style[k] = style[k] + d.float()
    return models, style
