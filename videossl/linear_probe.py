"""Linear probe on extracted clip features: multinomial logistic regression in torch, top-1 accuracy.

Features are the safetensors files ``videossl extract`` writes (one per video): the ``embedding``
tensor (clip level), or for dense files the mean of ``features`` over frames and positions.
Labels come from a CSV (``name,label`` rows, header optional; ``name`` is the feature file's stem,
the source video's path, or its file name / stem) or, without one, from the name of the folder
holding each source video (``UCF-101/ApplyEyeMakeup/v_...avi`` -> ``ApplyEyeMakeup``).

Training: features standardised with the training mean/std, then full-batch L-BFGS on the
cross-entropy plus ``wd · ||W||²`` (the CLIP linear-probe recipe uses L-BFGS logistic regression
too). Without ``wd`` a small sweep picks it on a stratified 20% of the training set, then refits
on all of it. Deterministic for a given input.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from videossl.errors import InputError

WD_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


# -- features and labels ------------------------------------------------------------------------
def _feature_files(source: str | os.PathLike) -> list[Path]:
    p = Path(source)
    if p.is_file():
        return [p]
    files = sorted(p.rglob("*.safetensors")) if p.is_dir() else []
    if not files:
        raise InputError(p, "no .safetensors feature files (run `videossl extract` first)")
    return files


def read_labels_csv(path: str | os.PathLike) -> dict[str, str]:
    """``{name: label}`` from ``name,label`` rows (a header row ``name,label`` / ``video,label`` is skipped)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
    except OSError as exc:
        raise InputError(path, f"cannot read labels: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for n, r in enumerate(rows, 1):
        if n == 1 and [x.strip().lower() for x in r[:2]] in (["name", "label"], ["video", "label"], ["path", "label"]):
            continue
        if len(r) < 2 or not r[0].strip() or not r[1].strip():
            raise InputError(path, f"expected 'name,label', got {','.join(r)!r}", line=n)
        out[r[0].strip()] = r[1].strip()
    if not out:
        raise InputError(path, "no labels")
    return out


def load_features(source: str | os.PathLike, labels: dict[str, str] | None = None) -> tuple[list[str], torch.Tensor, list[str]]:
    """``(names, features [N, D] float32, label per video)`` of a feature folder (or one file)."""
    from safetensors import safe_open

    names, feats, ys = [], [], []
    for f in _feature_files(source):
        try:
            with safe_open(str(f), framework="pt") as h:
                keys, meta = set(h.keys()), h.metadata() or {}
                if "embedding" in keys:
                    x = h.get_tensor("embedding").float().reshape(-1)
                elif "features" in keys:
                    t = h.get_tensor("features").float()
                    x = t.transpose(0, 1).reshape(t.shape[1], -1).mean(1)
                else:
                    raise InputError(f, "no 'embedding' or 'features' tensor")
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f, f"not a readable safetensors file ({type(exc).__name__})") from None
        src = meta.get("source", "")
        if labels is not None:
            cands = [f.stem, src, os.path.basename(src), Path(src).stem]
            y = next((labels[c] for c in cands if c and c in labels), None)
            if y is None:
                raise InputError(f, "no label for this video in the labels CSV (by feature name or source path)")
        else:
            if not src:
                raise InputError(f, "no 'source' in its metadata to take the label from; pass a labels CSV")
            y = Path(src).parent.name
        names.append(f.stem)
        feats.append(x)
        ys.append(y)
    dims = {len(x) for x in feats}
    if len(dims) != 1:
        raise InputError(source, f"feature files of different sizes {sorted(dims)}")
    return names, torch.stack(feats), ys


# -- the classifier -----------------------------------------------------------------------------
@dataclass
class LinearProbe:
    classes: list[str]
    weight: torch.Tensor  # [C, D]
    bias: torch.Tensor    # [C]
    mean: torch.Tensor
    std: torch.Tensor
    wd: float

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - self.mean) / self.std) @ self.weight.T + self.bias

    def predict(self, x: torch.Tensor) -> list[str]:
        return [self.classes[i] for i in self.logits(x).argmax(1).tolist()]


def _fit(x: torch.Tensor, y: torch.Tensor, num_classes: int, wd: float, max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + wd * (w * w).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    if x.numel() < 1_000_000:  # small problems: thread hand-offs cost more than the math (20x on a busy box)
        torch.set_num_threads(1)
    try:
        with torch.enable_grad():
            opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return w.detach(), b.detach()


def fit_linear_probe(x: torch.Tensor, labels: list[str], wd: float | None = None, max_iter: int = 300,
                     seed: int = 0) -> LinearProbe:
    """Logistic regression on ``x [N, D]``; ``wd`` None picks it on a held-out 20% (see module doc)."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise InputError(None, f"the training features hold {len(classes)} class(es); a probe needs at least 2")
    idx = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([idx[c] for c in labels])
    x = x.float()
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    z = (x - mean) / std
    if wd is None:
        g = torch.Generator().manual_seed(seed)
        val = torch.zeros(len(y), dtype=torch.bool)
        for c in range(len(classes)):  # stratified: 20% of each class with at least 2 examples
            members = (y == c).nonzero().flatten()
            members = members[torch.randperm(len(members), generator=g)]
            val[members[: len(members) // 5]] = True
        if val.sum() == 0 or (~val).sum() == 0:
            wd = 1e-3
        else:
            scores = []
            for cand in WD_GRID:
                w, b = _fit(z[~val], y[~val], len(classes), cand, max_iter)
                scores.append(float(((z[val] @ w.T + b).argmax(1) == y[val]).float().mean()))
            wd = WD_GRID[max(range(len(WD_GRID)), key=lambda i: (scores[i], i))]  # ties: stronger wd
    w, b = _fit(z, y, len(classes), wd, max_iter)
    return LinearProbe(classes, w, b, mean, std, float(wd))


def evaluate_probe(probe: LinearProbe, x: torch.Tensor, labels: list[str]) -> dict:
    """Top-1 (fraction) on labelled features; labels unseen in training count as errors."""
    pred = probe.predict(x)
    correct = sum(p == t for p, t in zip(pred, labels))
    unseen = sorted(set(labels) - set(probe.classes))
    return {"top1": correct / max(1, len(labels)), "videos": len(labels), "classes": len(probe.classes),
            "unseen_test_classes": len(unseen), "wd": probe.wd}


# -- command line -------------------------------------------------------------------------------
def register(subparsers) -> None:
    p = subparsers.add_parser("linear-probe", help="train a linear classifier on extracted clip features, report top-1",
                              description="Features: folders of `videossl extract` files; labels from --labels or "
                                          "the folder of each source video. Writes OUT/metrics.json.")
    p.add_argument("--train", required=True, help="training features (folder or file)")
    p.add_argument("--test", required=True, help="test features (folder or file)")
    p.add_argument("--labels", default=None, help="CSV of name,label for both sets (default: source folder names)")
    p.add_argument("--wd", type=float, default=None, help="L2 weight (default: picked on 20%% of the training set)")
    p.add_argument("--out", default="linear-probe", help="output folder for metrics.json (default: ./linear-probe)")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from videossl.utils import atomic_write_json, machine_info

    labels = read_labels_csv(args.labels) if args.labels else None
    _, xtr, ytr = load_features(args.train, labels)
    _, xte, yte = load_features(args.test, labels)
    if xtr.shape[1] != xte.shape[1]:
        raise InputError(args.test, f"feature size {xte.shape[1]} differs from the training features' {xtr.shape[1]}")
    t0 = time.perf_counter()
    probe = fit_linear_probe(xtr, ytr, args.wd)
    result = evaluate_probe(probe, xte, yte)
    seconds = time.perf_counter() - t0
    metrics = {"task": "linear_probe", "model": _model_of(args.train), "dataset": os.fspath(args.test),
               "overall": result, "per_sequence": {}, "fps": 0.0, "machine": machine_info(),
               "train_videos": len(ytr), "seconds": seconds}
    out = Path(args.out) / "metrics.json"
    atomic_write_json(out, metrics)
    print(f"linear probe: top-1 {100 * result['top1']:.1f}% on {result['videos']} test videos "
          f"({len(ytr)} train, {result['classes']} classes, wd {probe.wd:g}) -> {out}")
    if result["unseen_test_classes"]:
        print(f"  note: {result['unseen_test_classes']} test classes never seen in training (counted as errors)")
    return 0


def _model_of(source) -> str:
    """The model named in the extraction settings of the first feature file (for metrics.json)."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(_feature_files(source)[0]), framework="pt") as h:
            return json.loads((h.metadata() or {}).get("videossl_settings", "{}")).get("model", "")
    except Exception:
        return ""
