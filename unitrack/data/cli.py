"""``unitrack data synth --out DIR [--seed S] [--tasks sot,vos,mot,mots,pose] [--preview IMG_DIR]``.

``data`` is a verb with sub-commands so that dataset chores (today only generating the synthetic
benchmark) share one place on the command line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from unitrack.tasks import NAMES, TASKS, parse_task_list


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="dataset tools (synthetic benchmark)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True
    s = sub.add_parser("synth", help="write the synthetic benchmark in the real datasets' layouts")
    s.add_argument("--out", required=True,
                   help=f"folder to write {' '.join(t.dataset + '/' for t in TASKS.values())} into")
    s.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    s.add_argument("--tasks", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}")
    s.add_argument("--preview", default=None, metavar="IMG_DIR", help="also draw one annotated frame per task into IMG_DIR")
    s.set_defaults(func=run_synth)


def run_synth(args) -> int:
    from unitrack.data.synth import generate
    from videossl.utils.outputs import check_output_dir, is_disk_full, write_failure

    tasks = parse_task_list(args.tasks)
    check_output_dir(args.out)  # a read-only or full --out: one line before any work
    t0 = time.perf_counter()
    roots = {}
    for task in tasks:  # one task at a time, so a disk that fills up keeps (and names) the finished ones
        try:
            roots.update(generate(args.out, seed=args.seed, tasks=[task]))
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            err = write_failure(exc, Path(args.out) / TASKS[task].dataset)  # a failed write() names no file
            kept = ", ".join(f"{t} ({p})" for t, p in roots.items()) or "none"
            raise type(err)(err.path, f"{err.problem}; {task} not written (its partial folder removed); "
                                      f"complete and kept: {kept}; free space and re-run") from None
    for task, root in roots.items():
        print(f"{task:5s} {root}")
    print(f"generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.preview:
        from unitrack.data.synth.preview import write_previews

        for path in write_previews(roots, args.preview):
            print(f"preview {path}")
    return 0
