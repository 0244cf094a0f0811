"""Image strips for looking at clips: a PNG grid (rows = clips, columns = frames) and an animated GIF."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image


def save_strip(vid: np.ndarray, path: str, scale: int = 2) -> None:
    """vid [B, 3, F, H, W] in [-1, 1] -> PNG grid (rows = clips) and an animated GIF."""
    b, _, f, h, w = vid.shape
    u8 = ((vid.clip(-1, 1) + 1) * 127.5).round().astype(np.uint8)
    grid = np.zeros((b * (h + 2), f * (w + 2), 3), np.uint8)
    for i in range(b):
        for j in range(f):
            grid[i * (h + 2):i * (h + 2) + h, j * (w + 2):j * (w + 2) + w] = u8[i, :, j].transpose(1, 2, 0)
    img = Image.fromarray(grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    frames = [Image.fromarray(np.concatenate([u8[i, :, j].transpose(1, 2, 0) for i in range(b)], axis=1))
              .resize((w * b * scale, h * scale), Image.NEAREST) for j in range(f)]
    frames[0].save(os.path.splitext(path)[0] + ".gif", save_all=True, append_images=frames[1:], duration=125, loop=0)
