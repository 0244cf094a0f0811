"""Writes the sample inputs of the shared workflows (workflows/inputs/) from the training data
generator, so they are clips of the kind the model knows. Deterministic; run with /usr/bin/python3."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from data import ClipSpec, Obj, downsample2, render

HERE = os.path.dirname(os.path.abspath(__file__))

OUT = os.path.join(HERE, "..", "workflows", "inputs")


def to_u8(frame: np.ndarray) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> [H, W, 3] uint8."""
    return ((frame.clip(-1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)


def clip(objects, background, caption):
    return downsample2(render(ClipSpec(objects, background, "solid", caption)))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    # A source video for inpainting and video-to-video.
    video = clip([Obj("circle", "red", "right", 0.3, 0.5, 0.13, 0.4)], "black", "a red circle moving right on a black background")
    frames = [Image.fromarray(to_u8(video[:, f])) for f in range(video.shape[1])]
    frames[0].save(os.path.join(OUT, "red-circle-right.gif"), save_all=True, append_images=frames[1:], duration=125, loop=0)
    # A still image for image-to-video and cinemagraphs.
    still = clip([Obj("square", "green", "still", 0.5, 0.5, 0.15, 0.0)], "gray", "a green square on a gray background")
    Image.fromarray(to_u8(still[:, 0])).save(os.path.join(OUT, "green-square.png"))
    # Two objects: the cinemagraph animates the left one only.
    two = clip([Obj("circle", "yellow", "still", 0.28, 0.5, 0.12, 0.0), Obj("square", "blue", "still", 0.72, 0.5, 0.12, 0.0)], "navy",
               "a yellow circle and a blue square on a navy background")
    Image.fromarray(to_u8(two[:, 0])).save(os.path.join(OUT, "two-shapes.png"))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
