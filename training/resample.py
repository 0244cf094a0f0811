"""Video resampling between the base (32x32) and super-resolution (64x64) sizes, in torch.

The SSR model's conditioning is defined here, once, for training (`train.py`) and the reference
sampler (`sample.py`); the runtime must reproduce `upsample_lowres` (manifest: ssr.conditioning_upsample).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def downsample_video(x: torch.Tensor) -> torch.Tensor:
    """[B,3,F,64,64] -> [B,3,F,32,32] by 2x2 box filter (same as data.downsample2)."""
    b, c, f, h, w = x.shape
    return x.reshape(b, c, f, h // 2, 2, w // 2, 2).mean(dim=(4, 6))


def upsample_lowres(lo: torch.Tensor) -> torch.Tensor:
    """SSR conditioning: bilinear x2 per frame (align_corners=False), [B,3,F,h,w] -> [B,3,F,2h,2w]."""
    b, c, f, h, w = lo.shape
    y = F.interpolate(lo.transpose(1, 2).reshape(b * f, c, h, w), scale_factor=2.0, mode="bilinear",
                      align_corners=False)
    return y.reshape(b, f, c, 2 * h, 2 * w).transpose(1, 2)
