"""``videossl train``: train a video model against a concept space (the LSS recipe).

    videossl train --concepts prompts/kinetics.json --data VIDEOS_DIR_OR_CSV --out RUN
                   [--model videossl-tiny] [--objective concept] [--resume] [--pretrained WEIGHTS]
                   [--loader-workers N] [--no-progress]

Single process: run as is. Several processes / GPUs: ``torchrun --nproc_per_node N -m videossl
train ...`` (DDP; gloo on CPU). Exit status 3 when the loss diverges (NaN/inf), with the step and
the last good checkpoint named; exit 4 when the run folder cannot be written (disk full, read-only),
with the last complete checkpoint named; ``--resume`` continues from ``RUN/checkpoints/latest.json``,
or from the newest intact checkpoint when that one is damaged.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    from videossl.clitools import (add_model_arg, add_out_arg, add_pretrained_arg, add_progress_arg,
                                   add_renamed_flag, nonnegative_int, positive_int)
    from videossl.objectives import list_objectives

    p = subparsers.add_parser("train", help="train a video model against a language concept space",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--concepts", help="concept space JSON (prompts/*.json); needed by the concept objectives")
    p.add_argument("--data", required=True, nargs="+",
                   help="folder of videos / frame folders, or a CSV of path,label (several are concatenated)")
    add_out_arg(p, required=True, inside="the run (checkpoints/, metrics.jsonl, tb/, config.json, model.safetensors)")
    add_model_arg(p)
    add_pretrained_arg(p, default="random", note="training starts from random weights unless told otherwise")
    objectives = list_objectives()
    p.add_argument("--objective", default="concept", choices=objectives, metavar="NAME",
                   help=f"training objective: {', '.join(objectives)} (default: concept)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest intact checkpoint in --out (damaged ones are skipped, with a note)")
    p.add_argument("--steps", type=positive_int, default=1000)
    p.add_argument("--batch-size", type=positive_int, default=8, help="clips per process")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate at a total batch of 256 (scaled linearly)")
    p.add_argument("--warmup", type=nonnegative_int, default=100, help="linear warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.04)
    p.add_argument("--clip-grad", type=float, default=3.0)
    p.add_argument("--frames", type=positive_int, default=None, help="frames of a global view (default: the model's)")
    p.add_argument("--size", type=positive_int, default=None,
                   help="global-view side in pixels (default: the model's input size)")
    p.add_argument("--local-views", type=nonnegative_int, default=8, help="number of local views")
    p.add_argument("--frame-stride", type=positive_int, default=4, help="frames between sampled frames of a global view")
    p.add_argument("--loader-workers", dest="loader_workers", type=nonnegative_int, default=2,
                   help="DataLoader worker processes decoding clips (0: in the main process; default 2)")
    add_renamed_flag(p, "--workers", "--loader-workers", "loader_workers", type=nonnegative_int)
    p.add_argument("--ckpt-every", type=positive_int, default=200)
    p.add_argument("--keep-ckpts", type=nonnegative_int, default=2,
                   help="checkpoints kept on disk, the newest (default 2; 0: every one, e.g. to evaluate steps)")
    p.add_argument("--log-every", type=positive_int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too (bf16 autocast by default)")
    p.add_argument("--momentum-teacher", type=float, default=0.996,
                   help="EMA teacher momentum at step 0 (cosine to 1 over the run)")
    p.add_argument("--objective-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument of the objective, e.g. teacher_temp=0.01 (repeatable; VALUE read as JSON)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the model's config, e.g. trainable_stages=1 for mobilenetv2-lit (repeatable; "
                        "VALUE read as JSON); kept in config.json, and a resumed run must give the same")
    p.add_argument("--stop-after", type=positive_int, default=None,
                   help="stop after this step (schedules still span --steps)")
    add_progress_arg(p)
    p.set_defaults(func=run)


def preflight(args, model_kwargs: dict) -> None:
    """Everything that can be checked before the model is built: the run folder is writable, a resumed
    run is this model's and has an intact checkpoint, the concept file and the data can be read."""
    from videossl.errors import InputError
    from videossl.train.checkpoint import latest_checkpoint
    from videossl.train.data import list_videos
    from videossl.utils.outputs import check_output_dir

    out = check_output_dir(args.out)
    config = out / "config.json"
    if args.resume and config.is_file():
        try:
            old = json.loads(config.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            old = {}  # a damaged config.json is rewritten by this run; the checkpoint check below still holds
        if not isinstance(old, dict):
            old = {}  # valid JSON but not a run config (a list, a number): as damaged
        for key, flag in (("model", "--model"), ("objective", "--objective")):
            if old.get(key) not in (None, getattr(args, key)):
                raise InputError(config, f"this run was made with {flag} {old[key]}, not {getattr(args, key)}; "
                                         f"resume with {flag} {old[key]}, or use another --out")
        if old and old.get("model_kwargs", {}) != model_kwargs:  # damaged ({}): nothing to compare against
            given = " ".join(f"--model-arg {k}={json.dumps(v)}" for k, v in old.get("model_kwargs", {}).items())
            raise InputError(config, f"this run was made with model options {old.get('model_kwargs', {})}, not "
                                     f"{model_kwargs}; resume with {given or 'no --model-arg'}, or use another --out")
    if args.resume:
        latest_checkpoint(out)  # damaged checkpoints: a note and the newest intact one, or one error line
    if args.concepts:
        from videossl.concepts import load_concepts

        load_concepts(args.concepts)
    for d in args.data:
        list_videos(d)


def key_values(flag: str, pairs: list[str]) -> dict:
    """``["teacher_temp=0.01", "mode=x"]`` → ``{"teacher_temp": 0.01, "mode": "x"}`` (VALUE read as JSON when it
    parses, else kept as text)."""
    from videossl.errors import InputError

    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"{flag} expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value
    return kwargs


def objective_kwargs(name: str, pairs: list[str]) -> dict:
    """``["teacher_temp=0.01", ...]`` → ``{"teacher_temp": 0.01}``, checked against the objective's signature."""
    import inspect

    from videossl.errors import InputError
    from videossl.objectives import get_objective_class

    kwargs = key_values("--objective-arg", pairs)
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
    kwargs = objective_kwargs(args.objective, args.objective_arg)
    model_kwargs = key_values("--model-arg", args.model_arg)
    preflight(args, model_kwargs)
    cfg = TrainConfig(data=args.data, out=args.out, concepts=args.concepts, model=args.model,
                      pretrained=args.pretrained, objective=args.objective, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, weight_decay=args.weight_decay,
                      clip_grad=args.clip_grad, frames=args.frames, size=args.size, n_local=args.local_views,
                      frame_stride=args.frame_stride, workers=args.loader_workers, ckpt_every=args.ckpt_every,
                      keep_ckpts=args.keep_ckpts, log_every=args.log_every, seed=args.seed, device=args.device,
                      amp=not args.no_amp,
                      resume=args.resume, stop_after=args.stop_after, momentum_teacher=args.momentum_teacher,
                      objective_kwargs=kwargs, model_kwargs=model_kwargs, progress=not args.no_progress)
    try:
        summary = train(cfg)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if summary.get("rank", 0) == 0:
        print(json.dumps(summary))
    return 0
