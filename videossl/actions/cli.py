"""``videossl eval zeroshot --dataset ucf101|hmdb51|k600|synthetic --root DIR``: zero-shot accuracy over splits.

Prints top-1 / top-5 per split and as mean ± std, writes ``OUT/metrics.json`` (atomically).
``--dataset synthetic`` reads the synthetic action set of :mod:`videossl.data.actions` (UCF101
layout) and generates it into ``--root`` first when the folder holds none.
"""

from __future__ import annotations

from pathlib import Path

from videossl.errors import InputError

DATASETS = ("ucf101", "hmdb51", "k600", "synthetic")


def register(subparsers) -> None:
    from videossl.clitools import add_model_arg, add_pretrained_arg, add_progress_arg, positive_int

    p = subparsers.add_parser("eval", help="evaluation protocols (zero-shot action recognition)")
    sub = p.add_subparsers(dest="protocol", metavar="PROTOCOL")
    sub.required = True
    z = sub.add_parser("zeroshot", help="zero-shot top-1/top-5 on UCF101, HMDB51, K600 novel classes or the synthetic set",
                       description="Mean ± std over the official splits (K600: three 160-class subsets of the novel classes).")
    z.add_argument("--dataset", required=True, choices=DATASETS)
    z.add_argument("--root", required=True, help="dataset folder (split files / annotation CSVs and videos)")
    z.add_argument("--videos", default=None, help="where the videos are, when not under --root")
    add_model_arg(z, note="needs a text tower")
    add_pretrained_arg(z)
    z.add_argument("--concepts", default=None,
                   help="concept JSON whose descriptions join the prompt ensemble (default: prompts/<dataset>.json when present)")
    z.add_argument("--no-concepts", action="store_true", help="class names and templates only")
    z.add_argument("--splits", type=positive_int, nargs="+", default=[1, 2, 3], help="UCF101/HMDB51 splits (default: 1 2 3)")
    z.add_argument("--annotations", default=None, help="k600: the annotation CSV to evaluate (default: test, else val CSV under --root)")
    z.add_argument("--k400-classes", default=None, help="k600: the Kinetics-400 class list (CSV, JSON or text; default: prompts/kinetics.json)")
    z.add_argument("--novel-classes", default=None, help="k600: an explicit list of the 220 novel classes")
    z.add_argument("--clip-len", type=positive_int, default=None, help="frames per clip (default: the model's, else 8)")
    z.add_argument("--batch-size", type=positive_int, default=16)
    z.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    z.add_argument("--out", default=None, metavar="DIR",
                   help="output folder for metrics.json (default: eval-zeroshot-<dataset>); checked writable before any work")
    add_progress_arg(z)
    z.set_defaults(func=run_zeroshot)


def _kinetics_csv(root: Path) -> Path:
    csvs = sorted(root.rglob("*.csv"), key=lambda p: ("600" not in str(p), str(p)))  # K600 files first
    for word in ("test", "val"):
        hits = [p for p in csvs if word in p.stem.lower()]
        if hits:
            return hits[0]
    raise InputError(root, "no Kinetics-600 annotation CSV (test or val) under this folder; pass --annotations")


def load_splits(args):
    from videossl.actions import splits as S
    from videossl.concepts.shipped import require_shipped

    root = Path(args.root)
    if args.dataset == "synthetic":
        if not list(root.rglob("classInd.txt")):
            from videossl.data.actions import generate_actions

            print(f"generating the synthetic action set into {root}")
            generate_actions(root)
        return S.ucf101_splits(root, args.splits, args.videos)
    if args.dataset == "ucf101":
        return S.ucf101_splits(root, args.splits, args.videos)
    if args.dataset == "hmdb51":
        return S.hmdb51_splits(root, args.splits, args.videos)
    k400 = args.k400_classes or require_shipped("kinetics")
    if not Path(k400).is_file() and not args.novel_classes:
        raise InputError(k400, "no Kinetics-400 class list; pass --k400-classes or --novel-classes")
    return S.k600_novel_splits(args.annotations or _kinetics_csv(root), k400, args.videos or root, args.novel_classes)


def run_zeroshot(args) -> int:
    from videossl.actions.evaluate import default_concepts, zeroshot_eval
    from videossl.models import create_model
    from videossl.utils import atomic_write_json, resolve_device
    from videossl.utils.outputs import check_output_dir

    out = check_output_dir(args.out or f"eval-zeroshot-{args.dataset}") / "metrics.json"  # before any work
    splits = load_splits(args)
    concepts = None if args.no_concepts else (args.concepts or default_concepts(args.dataset))
    dev = resolve_device(args.device)
    model = create_model(args.model, pretrained=args.pretrained, device=str(dev))
    m = zeroshot_eval(model, splits, concepts, dataset=args.dataset, device=dev, batch_size=args.batch_size,
                      clip_len=args.clip_len, progress=not args.no_progress)
    m["concepts"] = str(concepts) if concepts else None
    atomic_write_json(out, m)
    described = f", descriptions from {concepts} for {m['classes_with_descriptions']} classes" if concepts else ""
    print(f"zero-shot {args.dataset}, {args.model}, {m['clip_len']}-frame clips{described}")
    print(f"{'split':<10} {'top-1':>7} {'top-5':>7} {'videos':>7} {'classes':>7} {'missing':>7} {'failed':>7}")
    for name, s in m["per_sequence"].items():
        print(f"{name:<10} {100 * s['top1']:>7.1f} {100 * s['top5']:>7.1f} {s['videos']:>7} {s['classes']:>7} "
              f"{s['missing']:>7} {s['failed']:>7}")
    o = m["overall"]
    print(f"{'mean±std':<10} {100 * o['top1_mean']:.1f}±{100 * o['top1_std']:.1f} "
          f"{100 * o['top5_mean']:.1f}±{100 * o['top5_std']:.1f}   ({m['fps']:.1f} videos/s) -> {out}")
    for note in m["notes"]:
        print(f"  note: {note}")
    return 0
