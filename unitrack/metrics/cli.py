"""``unitrack metrics --task T --gt ROOT --pred DIR [--out RUN]``: score saved predictions, write ``RUN/metrics.json``.

``DIR`` is ``RUN/<task>/`` as ``unitrack eval`` writes it; without ``--out`` the metrics go to
``DIR/../metrics.json`` when ``DIR`` is named after the task (the contract's layout), else they are
only printed. The table is in percent (counts as integers).
"""

from __future__ import annotations

from pathlib import Path

from unitrack.metrics import TASKS


def register(subparsers) -> None:
    p = subparsers.add_parser("metrics", help="score predictions against a dataset's ground truth",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--gt", required=True, help="dataset ROOT in its standard layout")
    p.add_argument("--pred", required=True, help="prediction folder (RUN/<task>/)")
    p.add_argument("--out", default=None, help="run folder for metrics.json (default: the parent of --pred "
                                               "when it is named after the task)")
    p.add_argument("--sequences", nargs="+", default=None, help="score only these sequences")
    p.add_argument("--model", default=None, help="model name recorded in metrics.json")
    p.add_argument("--no-per-sequence", action="store_true", help="print the overall row only")
    p.set_defaults(func=run)


def run(args) -> int:
    from unitrack.metrics import evaluate
    from unitrack.metrics.report import format_table, write_metrics_json

    from videossl.utils.outputs import check_output_dir

    pred = Path(args.pred)
    out = Path(args.out) if args.out else (pred.parent if pred.name == args.task else None)
    if out is not None:
        check_output_dir(out)  # a read-only or full folder: one line before scoring, not after
    result = evaluate(args.task, args.gt, pred, args.sequences)
    print(format_table(args.task, result, per_sequence=not args.no_per_sequence))
    if out is not None:
        path = write_metrics_json(out, args.task, result, model=args.model, dataset=Path(args.gt).resolve().name)
        print(f"wrote {path}")
    return 0
