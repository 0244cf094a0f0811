"""One U-Net definition for the whole family.

* T2I base   : UNet(in_ch=3,  temporal=False)           x [B, 3, H, W]
* STUNet     : UNet(in_ch=7,  temporal=True, t_down=True) x [B, 7, F, H, W]
* SSR        : UNet(in_ch=6,  temporal=True, t_down=False, no text)

The STUNet is the T2I network with temporal layers *added* next to the
spatial ones under separate attribute names (tconv, tattn, tdown, tup), so the
T2I state dict loads into it by name ("inflation", as in Lumiere): spatial
layers run per frame, temporal 1D convs / attention start as identities, and
temporal down/up-sampling start as pair-averaging / frame-repetition.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import (ResBlock, SpatialTransformer, TemporalAttention, TemporalConv, TemporalDown,
                     TemporalUp, norm, timestep_embedding, zero_)


COORD_GAIN = 4.0  # see UNet.coord
TEXT_COORD_TOK, TEXT_COORD_FEAT = 8, 16  # see UNet.text_coord


class Block(nn.Module):
    """ResBlock [+ temporal conv] [+ spatial/text transformer] [+ temporal attention]."""

    def __init__(self, cin, cout, temb, ctx_dim, attn, self_attn, temporal, tattn, frames):
        super().__init__()
        self.res = ResBlock(cin, cout, temb)
        self.tconv = TemporalConv(cout) if temporal else None
        self.attn = SpatialTransformer(cout, ctx_dim, self_attn) if attn else None
        self.tattn = TemporalAttention(cout, frames) if tattn else None

    def forward(self, x, emb, ctx, frames, pos=None):
        x = self.res(x, emb, pos)
        if self.tconv is not None:
            x = self.tconv(x, frames)
        if self.attn is not None:
            x = self.attn(x, ctx)
        if self.tattn is not None:
            x = self.tattn(x, frames)
        return x


class UNet(nn.Module):
    def __init__(self, in_ch=3, out_ch=3, ch=(32, 64, 96), ctx_dim=64, attn_levels=(1, 2),
                 self_attn_levels=(2,), temporal=False, t_down=False, tattn_levels=(), frames=16,
                 temb=128, global_text_len=0):
        super().__init__()
        self.ch, self.temporal, self.t_down, self.frames = ch, temporal, t_down, frames
        self.temb_dim = temb
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.in_conv = nn.Conv2d(in_ch, ch[0], 3, padding=1)
        n = len(ch)
        # frames at each level (STUNet halves time with space when t_down)
        fr = [frames // (2 ** i) if t_down else frames for i in range(n)]
        mk = lambda cin, cout, i: Block(  # noqa: E731
            cin, cout, temb, ctx_dim, i in attn_levels, i in self_attn_levels, temporal,
            temporal and i in tattn_levels, fr[i])
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        self.tdown = nn.ModuleList() if (temporal and t_down) else None
        prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(mk(prev, c, i))
            prev = c
            if i < n - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                if self.tdown is not None:
                    self.tdown.append(TemporalDown(c))
        self.mid1 = mk(ch[-1], ch[-1], n - 1)
        self.mid2 = mk(ch[-1], ch[-1], n - 1)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        self.tup = nn.ModuleList() if (temporal and t_down) else None
        for i in reversed(range(n)):
            self.up.append(mk(prev + ch[i], ch[i], i))
            prev = ch[i]
            if i > 0:
                self.upsample.append(nn.Conv2d(ch[i], ch[i - 1], 3, padding=1))
                if self.tup is not None:
                    self.tup.append(TemporalUp(ch[i - 1]))
                prev = ch[i - 1]
        self.out_norm = norm(ch[0])
        self.out_conv = nn.Conv2d(ch[0], out_ch, 3, padding=1)
        self.fr = fr
        # Global text conditioning (Imagen's pooled embedding, here over the whole fixed-length caption):
        # the caption is added to the timestep embedding, so every ResBlock, including those feeding the
        # temporal layers, sees it. Clip-wide attributes such as the motion direction reach the temporal
        # layers directly instead of only through per-frame, per-pixel cross-attention. Zero-initialised
        # output: a model that gains it starts exactly where it was. Registered last so the parameter
        # order (and a resumed optimizer's state) of older checkpoints is kept.
        self.text_pool = None
        if global_text_len and ctx_dim:
            self.text_pool = nn.Sequential(nn.Linear(global_text_len * ctx_dim, 64), nn.SiLU(),
                                           zero_(nn.Linear(64, temb)))
        # Per-frame text conditioning (temporal models): from the same caption features, one embedding per
        # frame, added to that frame's timestep embedding. A clip-wide vector adds the same bias to every
        # frame, so "moving left" could only become frame-dependent deep inside the temporal layers; here the
        # caption can say directly what differs from frame to frame. Frame embeddings are averaged over the
        # frames merged at the coarser levels. Zero-initialised output, registered last (as text_pool).
        self.text_frames_in = self.text_frames_out = None
        if global_text_len and ctx_dim and temporal:
            self.text_frames_in = nn.Linear(64, frames * 32)
            self.text_frames_out = zero_(nn.Linear(32, temb))
        # Position features (CoordConv) for the text-conditioned STUNet: every block gets a learned linear map
        # of the pixel's (x, y) in [-1, 1], added beside the timestep + caption bias. A motion here is a path
        # across the frame ("moving left" starts right of centre and ends left of it), so what the caption
        # asks of frame f is a position; without coordinates a convolutional net can place things only from
        # the zero padding at the borders. With them, SiLU(a·x + b_f(caption)) is a soft "x beyond a
        # frame-dependent threshold" mask in one layer. Zero-initialised, registered last (as text_pool).
        # Their output is scaled by COORD_GAIN: under Adam that is a 4x learning rate for these few weights,
        # added at step 19,710 of a 2e-4 run, without a parameter group of their own (which would change the
        # optimizer state's layout).
        self.coord = None
        if global_text_len and ctx_dim and temporal:
            couts = list(ch) + [ch[-1], ch[-1]] + list(reversed(ch))  # down blocks, mid1, mid2, up blocks
            self.coord = nn.ModuleList([zero_(nn.Linear(2, c)) for c in couts])
        # Caption-and-frame-dependent position features: every block also gets, per frame, a per-channel slope
        # along x and along y computed from the caption, added like `coord`. Why: after 27,761 steps the
        # STUNet's prediction did not depend on the direction word at all (loss unchanged, to 0.3%, when "left"
        # and "right" or "up" and "down" are swapped, at every noise level), so it moved objects in a random
        # direction. With `coord` alone, "left of centre at frame f" is a three-way product of caption, frame
        # and x that the net must build through nonlinearities; here the slope is linear in the caption. The
        # caption reaches it through its own all-linear path (per token 64 -> 8, then 16x8 -> 16 per frame),
        # not through `text_pool`'s hidden layer: that layer's output had shrunk to a norm of 0.35 and moved by
        # 0.02 between "left" and "right" (0.11 between two colours), too little to build on. The two input maps
        # keep their default (random) initialisation and the output map starts at zero, so the model starts
        # where it was and every part gets a gradient from the first step. Registered last (as text_pool).
        self.text_coord_tok = self.text_coord_in = self.text_coord = None
        if self.coord is not None:
            self.text_coord_tok = nn.Linear(ctx_dim, TEXT_COORD_TOK)
            self.text_coord_in = nn.Linear(global_text_len * TEXT_COORD_TOK, frames * TEXT_COORD_FEAT)
            self.text_coord = nn.ModuleList([zero_(nn.Linear(TEXT_COORD_FEAT, 2 * c)) for c in couts])

    def _positions(self, h, w, n):
        """Per block (down, mid1, mid2, up order) its position features [1, C, H_level, W_level]."""
        dev = self.coord[0].weight.device  # the grids are constants, made where the weights live

        def grid(hh, ww):  # pixel centres in [-1, 1], [hh, ww, 2] as (x, y)
            ys = (torch.arange(hh, dtype=torch.float32, device=dev) + 0.5) * (2.0 / hh) - 1.0
            xs = (torch.arange(ww, dtype=torch.float32, device=dev) + 0.5) * (2.0 / ww) - 1.0
            return torch.stack([xs[None, :].expand(hh, ww), ys[:, None].expand(hh, ww)], dim=-1)
        grids = [grid(h // 2 ** i, w // 2 ** i) for i in range(n)]
        levels = list(range(n)) + [n - 1, n - 1] + list(reversed(range(n)))
        return [(COORD_GAIN * lin(grids[i])).permute(2, 0, 1).unsqueeze(0) for lin, i in zip(self.coord, levels)]

    def _text_positions(self, ctx, h, w, n, fr):
        """Per block its caption-dependent position features [B*f_level, C, H_level, W_level]: per-frame
        slopes (from the caption, averaged over the frames merged at the level) times x and y."""
        feat = self.text_coord_in(self.text_coord_tok(ctx).reshape(ctx.shape[0], -1))
        feat = feat.reshape(ctx.shape[0], self.frames, TEXT_COORD_FEAT)
        levels = list(range(n)) + [n - 1, n - 1] + list(reversed(range(n)))
        out = []
        for lin, i in zip(self.text_coord, levels):
            hh, ww, f = h // 2 ** i, w // 2 ** i, fr[i]
            pooled = feat.reshape(feat.shape[0], f, self.frames // f, -1).mean(dim=2).reshape(-1, TEXT_COORD_FEAT)
            slopes = (COORD_GAIN * lin(pooled)).reshape(-1, 2, lin.out_features // 2, 1, 1)  # [B*f, 2, C, 1, 1]
            ys = ((torch.arange(hh, dtype=torch.float32, device=ctx.device) + 0.5) * (2.0 / hh) - 1.0).reshape(1, 1, hh, 1)
            xs = ((torch.arange(ww, dtype=torch.float32, device=ctx.device) + 0.5) * (2.0 / ww) - 1.0).reshape(1, 1, 1, ww)
            out.append(slopes[:, 0] * xs + slopes[:, 1] * ys)
        return out

    def forward(self, x, t, ctx=None):
        """x: [B, C, H, W] (T2I) or [B, C, F, H, W] (temporal); t: [B] float; ctx: [B, L, D]."""
        emb0 = self.time_mlp(timestep_embedding(t, self.ch[0]))
        frame_emb = None
        if self.text_pool is not None and ctx is not None:
            hidden = self.text_pool[1](self.text_pool[0](ctx.reshape(ctx.shape[0], -1)))
            emb0 = emb0 + self.text_pool[2](hidden)
            if self.text_frames_in is not None:
                per = F.silu(self.text_frames_in(hidden).reshape(ctx.shape[0], self.frames, 32))
                frame_emb = self.text_frames_out(per)  # [B, frames, temb]
        if self.temporal:
            frames = x.shape[2]
            h, w = x.shape[3], x.shape[4]
            x = x.transpose(1, 2).reshape(-1, x.shape[1], h, w)  # [B*F, C, H, W]
        else:
            frames = 1
        n = len(self.ch)
        fr = [frames // (2 ** i) if self.t_down else frames for i in range(n)]

        def per_frame(v, f):  # [B, ...] -> [B*f, ...] (frame-major within a clip)
            if not self.temporal:
                return v
            return v.unsqueeze(1).expand(v.shape[0], f, *v.shape[1:]).reshape(-1, *v.shape[1:])

        embs = [per_frame(emb0, f) for f in fr]
        if frame_emb is not None:
            if frames != self.frames:
                raise ValueError(f"this STUNet has per-frame text conditioning for {self.frames} frames, got {frames}")
            for i, f in enumerate(fr):  # average over the frames merged at this level, frame-major like per_frame
                pooled = frame_emb.reshape(frame_emb.shape[0], f, self.frames // f, -1).mean(dim=2)
                embs[i] = embs[i] + pooled.reshape(-1, pooled.shape[-1])
        ctxs = [per_frame(ctx, f) if ctx is not None else None for f in fr]

        hcur = self.in_conv(x)
        pos = self._positions(h, w, n) if self.coord is not None else [None] * (3 * n + 2)
        if self.text_coord is not None and ctx is not None:
            if frames != self.frames:
                raise ValueError(f"this STUNet has per-frame position features for {self.frames} frames, got {frames}")
            pos = [p + q for p, q in zip(pos, self._text_positions(ctx, h, w, n, fr))]
        skips = []
        for i in range(n):
            hcur = self.down[i](hcur, embs[i], ctxs[i], fr[i], pos[i])
            skips.append(hcur)
            if i < n - 1:
                hcur = self.downsample[i](hcur)
                if self.tdown is not None:
                    hcur = self.tdown[i](hcur, fr[i])
        hcur = self.mid1(hcur, embs[-1], ctxs[-1], fr[-1], pos[n])
        hcur = self.mid2(hcur, embs[-1], ctxs[-1], fr[-1], pos[n + 1])
        for j, i in enumerate(reversed(range(n))):
            hcur = self.up[j](torch.cat([hcur, skips[i]], dim=1), embs[i], ctxs[i], fr[i], pos[n + 2 + j])
            if i > 0:
                hcur = F.interpolate(hcur, scale_factor=2.0, mode="nearest")
                hcur = self.upsample[j](hcur)
                if self.tup is not None:
                    hcur = self.tup[j](hcur, fr[i])
        out = self.out_conv(F.silu(self.out_norm(hcur)))
        if self.temporal:
            _, c, h, w = out.shape
            out = out.reshape(-1, frames, c, h, w).transpose(1, 2)  # [B, C, F, H, W]
        return out


# ---- the concrete kinegraph-tiny configurations ------------------------------
# Channel widths were chosen by measuring s/step on 2 CPU threads (README).
BASE_CH = (32, 64, 64)


def t2i_unet(ctx_dim=64):
    return UNet(in_ch=3, ch=BASE_CH, ctx_dim=ctx_dim)


def stunet(ctx_dim=64, frames=16, ctx_len=16):
    # Same widths/attention as T2I (required for inflation) + temporal layers + global text conditioning.
    return UNet(in_ch=7, ch=BASE_CH, ctx_dim=ctx_dim, temporal=True, t_down=True, tattn_levels=(2,),
                frames=frames, global_text_len=ctx_len)


# Parameters added to the STUNet after checkpoints existed: a checkpoint without them loads, and they start
# at their (zero-output) initialisation.
ADDED_STUNET_PARAMS = ("text_pool.", "text_frames_in.", "text_frames_out.", "coord.",
                       "text_coord_tok.", "text_coord_in.", "text_coord.")


def load_weights(model: nn.Module, sd: dict) -> list:
    """load_state_dict that accepts a state dict lacking only parameters added since (ADDED_STUNET_PARAMS);
    any other missing or unexpected key is an error. Returns the names that kept their initialisation."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    bad = [k for k in missing if not k.startswith(ADDED_STUNET_PARAMS)]
    if bad or unexpected:
        raise KeyError(f"checkpoint does not fit the model: missing {bad}, unexpected {list(unexpected)}")
    return list(missing)


def ssr_net():
    # No text, no attention, no temporal down-sampling: any frame count works.
    return UNet(in_ch=6, ch=(32, 64), ctx_dim=None, attn_levels=(), self_attn_levels=(),
                temporal=True, t_down=False, frames=8)


@torch.no_grad()
def inflate(st: UNet, t2i: UNet) -> list:
    """Copy every T2I weight into the STUNet by name. The input conv grows from
    3 to 7 channels: noisy-video channels copy the T2I kernel, the conditioning
    + mask channels start at zero (so the STUNet begins as the per-frame T2I).
    Returns the names of STUNet params that came from T2I (the spatial layers)."""
    src = t2i.state_dict()
    dst = st.state_dict()
    spatial = []
    for k, v in src.items():
        if k not in dst:
            raise KeyError(f"T2I weight {k} has no STUNet counterpart")
        if dst[k].shape == v.shape:
            dst[k].copy_(v)
        elif k == "in_conv.weight":
            dst[k].zero_()
            dst[k][:, : v.shape[1]].copy_(v)
        else:
            raise ValueError(f"shape mismatch for {k}: {tuple(dst[k].shape)} vs {tuple(v.shape)}")
        spatial.append(k)
    return spatial


def spatial_param_names(st: UNet, t2i: UNet) -> list:
    """STUNet parameters that are 'spatial' (exist in the T2I U-Net)."""
    names = set(n for n, _ in t2i.named_parameters())
    return [n for n, _ in st.named_parameters() if n in names]
