"""The caption vocabulary: every attribute value a clip can have, and the words that join them.

The bottom of the training code's import order: the renderer (`data.py`) draws clips from these values
and the tokenizer (`tokenizer.py`) builds its word list from them, so neither needs the other.
The colours and backgrounds carry their RGB here because a colour word means exactly that colour.
"""
from __future__ import annotations

SHAPES = ["circle", "square", "triangle"]
COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.15, 0.35, 1.0),  # lifted a little so it reads on navy
    "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "white": (1.0, 1.0, 1.0),
}
MOTIONS = ["left", "right", "up", "down", "growing", "shrinking", "still"]
TRANSLATIONS = ("left", "right", "up", "down")
BACKGROUNDS = {"black": (0.0, 0.0, 0.0), "gray": (0.5, 0.5, 0.5), "navy": (0.0, 0.0, 0.5)}
STYLES = ["solid", "outline"]

# The words of the caption template around the attribute values
# ("a red circle moving left and a ... standing still on a black background").
GRAMMAR_WORDS = ["a", "and", "on", "background", "moving", "standing"]

# Every word a caption can contain, in the order the tokenizer numbers them.
CAPTION_WORDS = GRAMMAR_WORDS + SHAPES + list(COLOURS) + MOTIONS + list(BACKGROUNDS)
