"""Cosine noise schedule (Nichol & Dhariwal 2021), T=1000, v-prediction.

Exact recipe (float64 throughout, cast to float32 only when used by a model):
    f(t)  = cos(((t / T) + s) / (1 + s) * pi / 2) ** 2,  s = 0.008,  t = 0..T
    beta_i = min(1 - f(i + 1) / f(i), 0.999)              i = 0..T-1
    alphas_cumprod_i = prod_{j<=i} (1 - beta_j)
The same definition is written to manifest.json (plus the betas themselves) so
the TS runtime can recompute alphas_cumprod bit-for-bit in float64.

Forward process: x_t = sqrt(ac_t) x0 + sqrt(1 - ac_t) eps.
Model target (v-prediction): v = sqrt(ac_t) eps - sqrt(1 - ac_t) x0.
"""
from __future__ import annotations

import math

import numpy as np

T = 1000
COSINE_S = 0.008
MAX_BETA = 0.999


def betas(T_: int = T, s: float = COSINE_S) -> np.ndarray:
    f = lambda t: math.cos(((t / T_) + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return np.array([min(1 - f(i + 1) / f(i), MAX_BETA) for i in range(T_)], dtype=np.float64)


def alphas_cumprod(T_: int = T) -> np.ndarray:
    return np.cumprod(1.0 - betas(T_), dtype=np.float64)


AC = alphas_cumprod()


def manifest_entry() -> dict:
    return {
        "type": "cosine",
        "num_train_timesteps": T,
        "cosine_s": COSINE_S,
        "max_beta": MAX_BETA,
        "formula": "f(t)=cos(((t/T)+s)/(1+s)*pi/2)^2; beta_i=min(1-f(i+1)/f(i), max_beta) for i in 0..T-1; "
                   "alphas_cumprod_i=prod_{j<=i}(1-beta_j); all in float64",
        "timestep_input": "float32 tensor t of shape [B] holding the integer timestep index 0..T-1 (as float)",
        "betas": [float(b) for b in betas()],
    }
