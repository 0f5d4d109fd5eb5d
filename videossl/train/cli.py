"""``videossl train``: train a video model against a concept space (the LSS recipe).

    videossl train --concepts prompts/kinetics.json --data VIDEOS_DIR_OR_CSV --out RUN
                   [--model videossl-tiny] [--objective concept] [--resume] [--pretrained PATH]

Single process: run as is. Several processes / GPUs: ``torchrun --nproc_per_node N -m videossl
train ...`` (DDP; gloo on CPU). Exit status 3 when the loss diverges (NaN/inf), with the step and
the last good checkpoint named; ``--resume`` continues from ``RUN/checkpoints/latest.json``.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a video model against a language concept space",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--concepts", help="concept space JSON (prompts/*.json); needed by the concept objectives")
    p.add_argument("--data", required=True, nargs="+",
                   help="folder of videos / frame folders, or a CSV of path,label (several are concatenated)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, tb/, model.safetensors)")
    p.add_argument("--model", default="videossl-tiny", help="model name (videossl.models.list_models())")
    p.add_argument("--pretrained", default=None, help="initial weights: tag, Hugging Face id or local path")
    p.add_argument("--objective", default="concept", help="objective name (videossl.objectives.list_objectives())")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8, help="clips per process")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate at a total batch of 256 (scaled linearly)")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.04)
    p.add_argument("--clip-grad", type=float, default=3.0)
    p.add_argument("--frames", type=int, default=None, help="frames of a global view (default: the model's)")
    p.add_argument("--size", type=int, default=None, help="global-view side in pixels (default: the model's input size)")
    p.add_argument("--local-views", type=int, default=8, help="number of local views")
    p.add_argument("--frame-stride", type=int, default=4, help="frames between sampled frames of a global view")
    p.add_argument("--workers", type=int, default=2, help="data loading processes")
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too (bf16 autocast by default)")
    p.add_argument("--momentum-teacher", type=float, default=0.996,
                   help="EMA teacher momentum at step 0 (cosine to 1 over the run)")
    p.add_argument("--objective-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument of the objective, e.g. teacher_temp=0.01 (repeatable; VALUE read as JSON)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this step (schedules still span --steps)")
    p.set_defaults(func=run)


def objective_kwargs(name: str, pairs: list[str]) -> dict:
    """``["teacher_temp=0.01", ...]`` → ``{"teacher_temp": 0.01}``, checked against the objective's signature."""
    import inspect

    from videossl.errors import InputError
    from videossl.objectives import get_objective_class

    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"--objective-arg expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value
    if kwargs:
        params = inspect.signature(get_objective_class(name).__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            unknown = sorted(set(kwargs) - set(params) - {"self"})
            if unknown:
                known = ", ".join(k for k in params if k != "self")
                raise InputError(None, f"objective {name!r} has no argument {unknown[0]!r} (it takes: {known})")
    return kwargs


def run(args) -> int:
    from videossl.errors import InputError
    from videossl.train import TrainConfig, TrainingDiverged, train

    if args.objective.startswith("concept") and not args.concepts:
        raise InputError(None, f"--concepts is required by the {args.objective!r} objective")
    cfg = TrainConfig(data=args.data, out=args.out, concepts=args.concepts, model=args.model,
                      pretrained=args.pretrained, objective=args.objective, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, weight_decay=args.weight_decay,
                      clip_grad=args.clip_grad, frames=args.frames, size=args.size, n_local=args.local_views,
                      frame_stride=args.frame_stride, workers=args.workers, ckpt_every=args.ckpt_every,
                      log_every=args.log_every, seed=args.seed, device=args.device, amp=not args.no_amp,
                      resume=args.resume, stop_after=args.stop_after, momentum_teacher=args.momentum_teacher,
                      objective_kwargs=objective_kwargs(args.objective, args.objective_arg))
    try:
        summary = train(cfg)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if summary.get("rank", 0) == 0:
        print(json.dumps(summary))
    return 0
