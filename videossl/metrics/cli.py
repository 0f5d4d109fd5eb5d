"""``videossl metrics disentanglement --features F --factors Y [--out DIR]``.

F: ``[N, C]`` features, Y: ``[N, K]`` ground-truth factors, each a ``.npy`` or a ``.safetensors``
file (the tensor named by ``--features-key`` / ``--factors-key``, else the only tensor, else
``features`` / ``factors``). Prints the scores (MED, top-k MED, completeness, collapse) and
writes them as ``DIR/metrics.json`` with ``--out`` (a value ending in ``.json``, the old file form,
is still written as that file, with a note).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from videossl.errors import InputError


def load_array(path: str, key: str | None, default_key: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(p))
            if key is None:
                key = next(iter(tensors)) if len(tensors) == 1 else default_key
            if key not in tensors:
                raise InputError(p, f"no tensor {key!r}; it holds {', '.join(sorted(tensors))}")
            return tensors[key]
    except InputError:
        raise
    except Exception as exc:  # corrupt file
        raise InputError(p, f"cannot read: {exc}") from None
    raise InputError(p, "expected a .npy or .safetensors file")


def register(subparsers) -> None:
    from videossl.clitools import add_out_arg, positive_int

    p = subparsers.add_parser("metrics", help="scores of learned representations (disentanglement: MED)")
    sub = p.add_subparsers(dest="metric", metavar="METRIC")
    sub.required = True
    d = sub.add_parser("disentanglement", help="MED / top-k MED (Cao et al. 2022) and collapse report")
    d.add_argument("--features", required=True, help="[N, C] features (.npy or .safetensors)")
    d.add_argument("--factors", required=True, help="[N, K] ground-truth factors (.npy or .safetensors)")
    d.add_argument("--features-key", default=None)
    d.add_argument("--factors-key", default=None)
    d.add_argument("--factor-names", default=None, help="comma-separated names of the K factors")
    d.add_argument("--bins", type=positive_int, default=20)
    d.add_argument("--topk", type=positive_int, default=1)
    d.add_argument("--num-samples", type=positive_int, default=10_000)
    add_out_arg(d, inside="metrics.json (the scores)")
    d.set_defaults(func=run)


def run(args) -> int:
    from videossl.clitools import out_file
    from videossl.metrics.disentanglement import disentanglement_scores
    from videossl.utils import atomic_write_json, machine_info

    out = out_file(args.out, args.out, "metrics.json", ".json") if args.out else None  # checked before any work
    x = load_array(args.features, args.features_key, "features")
    y = load_array(args.factors, args.factors_key, "factors")
    if x.ndim != 2:
        raise InputError(args.features, f"features must be [N, C], got shape {tuple(x.shape)}")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise InputError(args.factors, f"factors must be [N, K] with N = {x.shape[0]}, got shape {tuple(y.shape)}")
    if not np.isfinite(x).all():
        raise InputError(args.features, "features contain NaN or inf")
    names = args.factor_names.split(",") if args.factor_names else None
    if names is not None and len(names) != y.shape[1]:
        raise InputError(args.factors, f"{len(names)} factor names for {y.shape[1]} factors")
    scores = disentanglement_scores(x, y, num_bins=args.bins, topk=args.topk, num_samples=args.num_samples,
                                    factor_names=names)
    scores["machine"] = machine_info()
    if out is not None:
        atomic_write_json(out, scores)
    c = scores["collapse"]
    top = f"top{args.topk}_med"
    print(f"MED {scores['med']:.4f}" + (f"  {top.replace('_', '-').upper()} {scores[top]:.4f}" if top in scores else "")
          + f"  completeness {scores['completeness']:.4f}  (N={scores['num_samples']}, {x.shape[1]} codes, {y.shape[1]} factors)")
    print(f"effective rank {c['effective_rank']:.2f} / {c['dims']}  dead dims {c['dead_dims']}"
          + ("  COMPLETE COLLAPSE" if c["complete_collapse"] else "")
          + ("  dimensional collapse" if c["dimensional_collapse"] and not c["complete_collapse"] else ""))
    if c["complete_collapse"] or c["dimensional_collapse"]:
        print("warning: the representation has collapsed; its MED is not meaningful", file=sys.stderr)
    return 0
