"""max |Δ encode_frames| of ``mobilenetv2-lit`` weights against the shipped ``image`` tag on real frames (frames 0
and 10 of every sequence of DAVIS-2016 train5, 854x480): the maps every tracking head reads. The trunk is frozen,
so any head/adapter file should give exactly 0.

    PYTHONPATH=$PWD python eval/lss_dense_check.py video /tmp/lss/web-s240.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def main(argv=None) -> int:
    from videossl.io import open_video
    from videossl.io.transforms import to_tensor_normalized
    from videossl.models import create_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--real", default="/work/shared/realdata/davis2016-train5")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ref = create_model("mobilenetv2-lit", pretrained="image").eval()
    models = {w: create_model("mobilenetv2-lit", pretrained=w).eval() for w in args.weights}
    worst = 0.0
    for seq in sorted((Path(args.real) / "JPEGImages" / "480p").iterdir()):
        x = to_tensor_normalized(open_video(seq).get_batch([0, 10]), ref.mean, ref.std)
        with torch.no_grad():
            r = ref.encode_frames(x)
            d = {Path(w).stem: float((m.encode_frames(x) - r).abs().max()) for w, m in models.items()}
        worst = max(worst, *d.values())
        print(seq.name, tuple(x.shape), d)
    print(f"max |Δ encode_frames| over all: {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
