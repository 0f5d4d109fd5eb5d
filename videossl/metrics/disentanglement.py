"""MED — mutual-information-based entropy disentanglement (Cao et al., "An Empirical Study on
Disentanglement of Negative-free Contrastive Learning", NeurIPS 2022; noahcao/disentanglement_lib_med),
and a collapse report for the same representation.

MED, as the authors compute it (codes c_i, i = 1…C; discrete factors y_j, j = 1…K):

1. up to 10,000 samples; each code dimension discretised into 20 equal-width bins over its own
   range (``np.digitize(x, np.histogram(x, 20)[1][:-1])``, disentanglement_lib's
   ``histogram_discretize``);
2. ``m_ij = I(ĉ_i; y_j)`` — discrete mutual information (``sklearn.metrics.mutual_info_score``, nats);
3. ``R = m / Σ_i m_ij`` — each factor's column normalised over codes;
4. ``D_i = 1 − H_K(R_i / Σ_j R_ij)`` — entropy in base K (number of factors) of the code's row;
5. ``MED = Σ_i ρ_i D_i`` with ``ρ_i = Σ_j R_ij / Σ R``.

Top-k MED keeps, for each factor, the k codes with the highest ``D_i`` among the codes whose
argmax factor it is, and recomputes MED on those rows (k = 1 in the paper's config).
Completeness (the column-wise twin, as in their code) is reported too.

A factor with zero mutual information with every code keeps a zero column (the reference code
would divide 0/0); a representation with no information at all scores 0. Continuous factors
(more than 20 distinct values) are discretised the same way as codes (inferred; the paper's
factors are discrete).

Collapse (:func:`collapse_report`): per-dimension standard deviations, dimensions whose std is
below ``1e-3 ×`` the largest (dead), and the effective rank ``exp(H(σ/Σσ))`` of the centred
features' singular values (Roy & Vetterli 2007). ``complete`` collapse: every dimension dead
relative to the features' scale (all samples map to one point); ``dimensional`` collapse:
effective rank below max(1.5, 10 % of the dimensions) (the features span about one direction
or a small fraction of the space — Jing et al. 2022's dimensional collapse).
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from sklearn.metrics import mutual_info_score


def histogram_discretize(x: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per column of ``x [N, C]``: bin index from an equal-width ``num_bins`` histogram of that column."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.int64)
    for i in range(x.shape[1]):
        edges = np.histogram(x[:, i], num_bins)[1][:-1]
        out[:, i] = np.digitize(x[:, i], edges)
    return out


def discrete_factors(y: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Factors as integer labels; a column with more than ``num_bins`` distinct values is binned."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    out = np.zeros(y.shape, dtype=np.int64)
    for j in range(y.shape[1]):
        col = y[:, j]
        if len(np.unique(col)) > num_bins:
            out[:, j] = histogram_discretize(col[:, None].astype(np.float64), num_bins)[:, 0]
        else:
            out[:, j] = np.unique(col, return_inverse=True)[1]
    return out


def mutual_info_matrix(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``m [C, K]``, ``m_ij = I(code_i; factor_j)`` in nats."""
    c, k = codes_discrete.shape[1], factors.shape[1]
    m = np.zeros((c, k))
    for i in range(c):
        for j in range(k):
            m[i, j] = mutual_info_score(factors[:, j], codes_discrete[:, i])
    return m


def importance_matrix(m: np.ndarray) -> np.ndarray:
    """``R = m / Σ_codes m`` per factor column (zero columns stay zero)."""
    total = m.sum(axis=0, keepdims=True)
    return np.divide(m, total, out=np.zeros_like(m, dtype=np.float64), where=total > 0)


def disentanglement_per_code(r: np.ndarray) -> np.ndarray:
    """``D_i = 1 − H_K(R_i / Σ_j R_ij)`` (entropy in base K = number of factors)."""
    k = r.shape[1]
    if k < 2:
        return np.ones(r.shape[0])  # one factor: every code is trivially specific
    return 1.0 - scipy.stats.entropy(r.T + 1e-11, base=k)


def med(r: np.ndarray) -> float:
    """``Σ_i ρ_i D_i``, ``ρ_i = Σ_j R_ij / Σ R``."""
    if r.sum() == 0:
        return 0.0
    rho = r.sum(axis=1) / r.sum()
    return float(np.sum(disentanglement_per_code(r) * rho))


def completeness(r: np.ndarray) -> float:
    """Column-wise twin of MED: ``Σ_j ρ_j (1 − H_C(R_·j))``."""
    if r.sum() == 0 or r.shape[0] < 2:
        return 0.0
    per_factor = 1.0 - scipy.stats.entropy(r + 1e-11, base=r.shape[0])
    return float(np.sum(per_factor * r.sum(axis=0) / r.sum()))


def topk_codes(r: np.ndarray, k: int = 1) -> list[int]:
    """Per factor, the ``k`` codes with the highest ``D_i`` among those whose argmax factor it is."""
    d = disentanglement_per_code(r)
    owner = np.argmax(r, axis=1)
    chosen: list[int] = []
    for j in range(r.shape[1]):
        mine = np.flatnonzero((owner == j) & (r.sum(axis=1) > 0))
        chosen.extend(int(i) for i in mine[np.argsort(-d[mine], kind="stable")][:k])
    return sorted(chosen)


def collapse_report(features: np.ndarray, dead_ratio: float = 1e-3) -> dict:
    """Dead dimensions, effective rank and collapse flags of ``features [N, C]``."""
    x = np.asarray(features, dtype=np.float64)
    std = x.std(axis=0)
    scale = max(float(np.abs(x).mean()), 1e-12)
    dead = std <= dead_ratio * max(float(std.max()), 0.0) if std.max() > 0 else np.ones_like(std, dtype=bool)
    sv = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    if sv.sum() <= 1e-12 * scale * np.sqrt(len(x)):
        erank = 0.0
    else:
        p = sv / sv.sum()
        p = p[p > 0]
        erank = float(np.exp(-(p * np.log(p)).sum()))
    point = float(std.max()) <= 1e-6 * scale
    return {"dims": int(x.shape[1]), "dead_dims": int(dead.sum()), "effective_rank": erank,
            "min_std": float(std.min()), "max_std": float(std.max()),
            "complete_collapse": bool(point),
            "dimensional_collapse": bool(point or erank < max(1.5, 0.1 * x.shape[1]))}


def disentanglement_scores(features: np.ndarray, factors: np.ndarray, num_bins: int = 20, topk: int = 1,
                           num_samples: int = 10_000, seed: int = 0, factor_names: list[str] | None = None) -> dict:
    """MED, top-k MED, completeness, the MI / importance matrices and the collapse report."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(factors)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features {x.shape} and factors {y.shape} must be [N, C] and [N, K] with the same N")
    if x.shape[0] > num_samples:
        idx = np.random.default_rng(seed).choice(x.shape[0], num_samples, replace=False)
        x, y = x[idx], y[idx]
    yd = discrete_factors(y, num_bins)
    m = mutual_info_matrix(histogram_discretize(x, num_bins), yd)
    r = importance_matrix(m)
    keep = topk_codes(r, topk) if topk > 0 else []
    names = factor_names or [f"factor{j}" for j in range(y.shape[1])]
    out = {"med": med(r), "completeness": completeness(r), "num_samples": int(x.shape[0]), "num_bins": num_bins,
           "factors": names, "mutual_info": m.tolist(), "collapse": collapse_report(x)}
    if topk > 0:
        out[f"top{topk}_med"] = med(r[keep]) if keep else 0.0
        out[f"top{topk}_codes"] = keep
    return out
