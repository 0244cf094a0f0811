"""Small transformer text encoder: input_ids [B, L] int64 -> embeddings [B, L, D].

No attention mask: [PAD] positions are encoded like any token, which makes the
output a pure function of the ids (simple for the runtime) and gives the
all-[PAD] empty caption its own learned "null" embedding for CFG.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .common import Attention


class EncoderLayer(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, heads=heads)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ff(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, max_len: int = 16, d: int = 64, layers: int = 2, heads: int = 4):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d)
        self.pos = nn.Parameter(torch.randn(1, max_len, d) * 0.02)
        self.layers = nn.ModuleList([EncoderLayer(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, input_ids):
        x = self.tok(input_ids) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.ln(x)
