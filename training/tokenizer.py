"""Word-level tokenizer, written as a Hugging Face `tokenizer.json`.

The Python side re-implements exactly what the HF pipeline in tokenizer.json
does (Lowercase normalizer -> Whitespace pre-tokenizer `\\w+|[^\\w\\s]+` ->
WordLevel lookup with [UNK] -> truncate/pad right to a fixed L with [PAD]=0),
so ids produced here and by `@huggingface/tokenizers` in TS agree.
No BOS/EOS are added; the empty caption "" is L x [PAD] (the CFG null prompt).
"""
from __future__ import annotations

import json
import os
import re
import sys

import numpy as np

from vocab import CAPTION_WORDS

MAX_LEN = 16
SPECIALS = ["[PAD]", "[UNK]"]


def build_vocab() -> dict:
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in CAPTION_WORDS:
        if w not in vocab:
            vocab[w] = len(vocab)
    return vocab


VOCAB = build_vocab()
PAD_ID, UNK_ID = VOCAB["[PAD]"], VOCAB["[UNK]"]
_PRE = re.compile(r"\w+|[^\w\s]+")


def encode(text: str, max_len: int = MAX_LEN) -> list:
    ids = [VOCAB.get(w, UNK_ID) for w in _PRE.findall(text.lower())][:max_len]
    return ids + [PAD_ID] * (max_len - len(ids))


def encode_batch(texts, max_len: int = MAX_LEN) -> np.ndarray:
    return np.array([encode(t, max_len) for t in texts], dtype=np.int64)


def tokenizer_json(max_len: int = MAX_LEN) -> dict:
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_len, "strategy": "LongestFirst", "stride": 0},
        "padding": {
            "strategy": {"Fixed": max_len}, "direction": "Right", "pad_to_multiple_of": None,
            "pad_id": PAD_ID, "pad_type_id": 0, "pad_token": "[PAD]",
        },
        "added_tokens": [
            {"id": VOCAB[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIALS
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": "[UNK]"},
    }


def tokenizer_config(max_len: int = MAX_LEN) -> dict:
    """Companion tokenizer_config.json (tokenizers.js' `new Tokenizer(json, config)`)."""
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_len, "padding_side": "right",
            "truncation_side": "right", "pad_token": "[PAD]", "unk_token": "[UNK]", "do_lower_case": True,
            "add_bos_token": False, "add_eos_token": False}


def write_tokenizer_json(path: str) -> None:
    """Writes tokenizer.json and tokenizer_config.json next to it."""
    with open(path, "w") as f:
        json.dump(tokenizer_json(), f, indent=1)
        f.write("\n")
    with open(os.path.join(os.path.dirname(path), "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=1)
        f.write("\n")


def write_fixture(path: str) -> None:
    """Captions -> expected ids, for checking the TS tokenizer against tokenizer.json."""
    caps = ["a red circle moving left on a black background",
            "A red square standing still and a blue circle standing still on a black background",
            "", "a purple hexagon, moving sideways!", "  A  YELLOW   triangle growing  ",
            "a b c d e f g h i j k l m n o p q r s t"]
    with open(path, "w") as f:
        json.dump({"max_length": MAX_LEN, "cases": [{"text": c, "ids": encode(c)} for c in caps]}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write_fixture(sys.argv[1])
    print(len(VOCAB), encode("A red square standing still and a blue circle standing still on a black background"))
