"""DAVIS-2016 original layout vs the 2017 layout of the same real sequences: the same J&F.

    python eval/davis2016_layout.py [--data ../shared/realdata/davis2016-train5] [--models copy-first,tiny-resnet]

``../shared/realdata/davis2016-train5`` holds 5 DAVIS-2016 train sequences converted to the 2017 layout
(indexed PNG, object 1, ``ImageSets/2017/val.txt``). This script converts them back, in a temporary
folder, to the layout DAVIS-2016 was published in: greyscale 0/255 masks, ``ImageSets/480p/train.txt``
of ``/JPEGImages/480p/<seq>/<f>.jpg /Annotations/480p/<seq>/<f>.png`` pairs (frames linked, not
copied). Then ``unitrack eval --task vos`` runs on both roots (layout detected: davis2017 / davis2016)
with each model, and the J&F of the two are compared; the 2017-layout predictions are also scored
against the 2016 root (the metric alone). Prints a markdown section for ``eval/results/vos.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def to_davis2016(src: Path, dst: Path, split: str = "train") -> list[str]:
    """Write ``src`` (2017 layout) as the original DAVIS-2016 layout under ``dst``; return the sequences."""
    from unitrack.data import davis

    names = davis.list_sequences(src)
    lines = []
    for name in names:
        seq = davis.load_sequence(src, name)
        (dst / "JPEGImages" / "480p").mkdir(parents=True, exist_ok=True)
        os.symlink(seq.frame_dir.resolve(), dst / "JPEGImages" / "480p" / name)
        ann = dst / "Annotations" / "480p" / name
        ann.mkdir(parents=True)
        for t, frame in enumerate(seq.frames):
            mask = seq.load_mask(t)
            Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8), mode="L").save(ann / f"{frame.stem}.png")
            lines.append(f"/JPEGImages/480p/{name}/{frame.name} /Annotations/480p/{name}/{frame.stem}.png")
    (dst / "ImageSets" / "480p").mkdir(parents=True)
    (dst / "ImageSets" / "480p" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "realdata" / "davis2016-train5"),
                    help="the 2017-layout copy (default ../shared/realdata/davis2016-train5 next to the repository)")
    ap.add_argument("--models", default="copy-first,tiny-resnet")
    args = ap.parse_args()
    from unitrack.data import davis
    from unitrack.eval import evaluate_task
    from unitrack.metrics import vos
    from videossl.utils import machine_info

    src = Path(args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        names = to_davis2016(src, tmp / "davis2016")
        assert davis.detect_format(src) == "davis2017" and davis.detect_format(tmp / "davis2016") == "davis2016"
        assert davis.list_sequences(tmp / "davis2016", "train") == names
        for model in args.models.split(","):
            opts = {"baseline": "copy-first"} if model == "copy-first" else {}
            name = "tiny-resnet" if model == "copy-first" else model
            res = {}
            for layout, root in (("2017", src), ("2016", tmp / "davis2016")):
                torch.manual_seed(0)  # the same random tiny-resnet weights for both layouts
                t0 = time.perf_counter()
                m = evaluate_task("vos", data=root, model=name, out=tmp / f"run-{model}-{layout}", device="cpu",
                                  sequences=names, options=opts, progress=False, pretrained=None)
                res[layout] = (m["overall"], time.perf_counter() - t0)
            cross = vos.evaluate(tmp / "davis2016", tmp / f"run-{model}-2017" / "vos", names)["overall"]
            rows.append((model, res["2017"], res["2016"], cross))
    info = machine_info()
    print(f"\n## DAVIS-2016 original layout vs the 2017 layout (real frames)\n")
    print(f"Machine: {info} (shared with other jobs); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. `python eval/davis2016_layout.py`.\n")
    print("`../shared/realdata/davis2016-train5` (5 DAVIS-2016 train sequences, 262 frames at 854×480, 2017 layout) "
          "and the same sequences converted on the fly to the layout DAVIS-2016 was published in (greyscale 0/255 "
          "masks, `ImageSets/480p/train.txt` of path pairs); `unitrack eval --task vos` on each root, the layout "
          "detected. Scores ×100.\n")
    print("| model | 2017 layout J / F / J&F | 2016 layout J / F / J&F | 2017 predictions scored on the 2016 root "
          "| max abs diff | eval s (2017 / 2016) |")
    print("|---|---|---|---|---|---|")
    for model, (a, ta), (b, tb), c in rows:
        fmt = lambda o: " / ".join(f"{100 * o[k]:.2f}" for k in ("J_mean", "F_mean", "JF_mean"))  # noqa: E731
        diff = max(abs(a[k] - b[k]) for k in a) if a and b else float("nan")
        diff = max(diff, max(abs(a[k] - c[k]) for k in a))
        print(f"| {model} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {diff:.1e} | {ta:.0f} / {tb:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
