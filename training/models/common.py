"""Building blocks shared by the T2I U-Net, the STUNet and the SSR net.

Layout convention: spatial layers see frames folded into the batch,
[B*F, C, H, W] (frame-major inside each clip); temporal layers unfold to
[B, C, F, H*W] and run a (k x 1) Conv2d, i.e. a 1D conv over time at every pixel.
All reshapes use -1 or traced sizes so ONNX keeps batch (and frames) dynamic.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of a float timestep [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, c), c)


def zero_(m: nn.Module) -> nn.Module:
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


class ResBlock(nn.Module):
    """Spatial residual block with additive timestep conditioning."""

    def __init__(self, cin: int, cout: int, temb: int):
        super().__init__()
        self.n1, self.c1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(temb, cout)
        self.n2, self.c2 = norm(cout), zero_(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb, pos=None):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        if pos is not None:  # [1, cout, H, W] position features, added where the (per-frame) caption bias is
            h = h + pos
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head attention written with plain matmuls (clean ONNX export)."""

    def __init__(self, dim: int, ctx_dim: int | None = None, heads: int = 4):
        super().__init__()
        ctx_dim = ctx_dim or dim
        self.heads, self.dh = heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        n, lq, _ = x.shape
        lk = ctx.shape[1]
        q = self.q(x).reshape(n, lq, self.heads, self.dh).transpose(1, 2)
        k = self.k(ctx).reshape(n, lk, self.heads, self.dh).transpose(1, 2)
        v = self.v(ctx).reshape(n, lk, self.heads, self.dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(self.dh), dim=-1)
        return self.o((a @ v).transpose(1, 2).reshape(n, lq, self.heads * self.dh))


class SpatialTransformer(nn.Module):
    """Per-frame self-attention (optional) + text cross-attention over H*W tokens.
    Output projections start at zero so a fresh block is an identity."""

    def __init__(self, c: int, ctx_dim: int, self_attn: bool, heads: int = 4):
        super().__init__()
        self.norm_in = norm(c)
        self.self_attn = self_attn
        if self_attn:
            self.ln1, self.attn1 = nn.LayerNorm(c), Attention(c, heads=heads)
            zero_(self.attn1.o)
        self.ln2, self.attn2 = nn.LayerNorm(c), Attention(c, ctx_dim, heads=heads)
        zero_(self.attn2.o)
        self.ln3 = nn.LayerNorm(c)
        self.ff = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), zero_(nn.Linear(2 * c, c)))

    def forward(self, x, ctx):
        n, c, h, w = x.shape
        tok = self.norm_in(x).reshape(n, c, h * w).transpose(1, 2)
        if self.self_attn:
            tok = tok + self.attn1(self.ln1(tok))
        tok = tok + self.attn2(self.ln2(tok), ctx)
        tok = tok + self.ff(self.ln3(tok))
        return x + tok.transpose(1, 2).reshape(n, c, h, w)


# ---- temporal layers (STUNet / SSR only) ------------------------------------

def to_time(x: torch.Tensor, frames: int) -> torch.Tensor:
    """[B*F, C, H, W] -> [B, C, F, H*W]."""
    n, c, h, w = x.shape
    return x.reshape(-1, frames, c, h * w).transpose(1, 2)


def from_time(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, C, F, H*W] -> [B*F, C, H, W]."""
    b, c, f, _ = x.shape
    return x.transpose(1, 2).reshape(-1, c, h, w)


class TemporalConv(nn.Module):
    """Residual 1D conv over time (kernel 3). Zero-initialised output, so the
    inflated network starts out equal to the per-frame T2I network."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = norm(c)
        self.conv = zero_(nn.Conv2d(c, c, (3, 1), padding=(1, 0)))

    def forward(self, x, frames):
        _, _, h, w = x.shape
        y = self.conv(F.silu(self.norm(to_time(x, frames))))
        return x + from_time(y, h, w)


class TemporalAttention(nn.Module):
    """Self-attention along time at every pixel, learned frame positions,
    zero-initialised output (identity at inflation)."""

    def __init__(self, c: int, frames: int, heads: int = 4):
        super().__init__()
        self.norm = norm(c)
        self.pos = nn.Parameter(torch.zeros(1, frames, c))
        nn.init.normal_(self.pos, std=0.02)
        self.attn = Attention(c, heads=heads)
        zero_(self.attn.o)

    def forward(self, x, frames):
        n, c, h, w = x.shape
        t = to_time(self.norm(x), frames)  # [B, C, F, HW]
        tok = t.permute(0, 3, 2, 1).reshape(-1, frames, c) + self.pos  # [B*HW, F, C]
        y = self.attn(tok).reshape(-1, h * w, frames, c).permute(0, 3, 2, 1)  # [B, C, F, HW]
        return x + from_time(y, h, w)


class TemporalDown(nn.Module):
    """Halve the frame count with a stride-2 kernel-2 temporal conv initialised to
    the average of each frame pair (a sensible start for an inflated network)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, (2, 1), stride=(2, 1))
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            for i in range(c):
                self.conv.weight[i, i, :, 0] = 0.5

    def forward(self, x, frames):
        _, _, h, w = x.shape
        return from_time(self.conv(to_time(x, frames)), h, w)


class TemporalUp(nn.Module):
    """Double the frame count: transposed conv initialised to frame repetition."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c, c, (2, 1), stride=(2, 1))
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            for i in range(c):
                self.conv.weight[i, i, :, 0] = 1.0

    def forward(self, x, frames):
        _, _, h, w = x.shape
        return from_time(self.conv(to_time(x, frames)), h, w)
