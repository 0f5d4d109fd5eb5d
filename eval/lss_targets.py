"""What the teacher of the LSS miniature asks for: a checkpoint's concept-distillation targets on the unlabelled
training clips (labels recovered from the generator) and its zero-shot reading of the evaluation clips, each split
by whether the clip was shot with the slow shutter (blurred) or sharp.

A clip's target is the teacher's sharpened distribution over the eight action concepts,
``softmax(κ cos(z, E) / τ_t)``, with the training's concept matrix ``E`` (names + descriptions, ``embed_concepts``),
κ = 1/0.07 and τ_t = 0.04, without the running centre (it shifts every clip of a batch alike). ``z`` is the clip's
embedding over 8 frames, as in the zero-shot evaluation (training views have 4).

    PYTHONPATH=$PWD python eval/lss_targets.py web-image=/tmp/lss/lit-web-image.safetensors \\
        --unlabelled /tmp/lss/data/unlabelled_blur_s1 --eval /tmp/lss/cache/object_actions_blur_s0_12_8 --out T.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PAIRS = ((0, 1), (2, 3), (4, 5))  # ball rolling/bouncing, car driving/parked, balloon inflating/rising


def rendered(actions, rng) -> list[bool]:
    """Render ``actions`` in order from ``rng`` (as the generators do) and return each clip's shutter coin."""
    from videossl.data.object_actions import BLUR_P, render_object_action

    flags = []
    for a in actions:
        state = rng.bit_generator.state
        flags.append(bool(rng.random() < BLUR_P))  # the first draw of a motion_blur clip, peeked
        rng.bit_generator.state = state
        render_object_action(a, rng, 96, 16, motion_blur=True)  # advances rng exactly as the generator did
    return flags


def unlabelled_set(root: Path, per_class: int = 20, seed: int = 1):
    """``(paths, labels, blurred)`` of ``generate_unlabelled(root, per_class, 96, seed=seed, motion_blur=True)``."""
    from videossl.data.object_actions import ACTIONS

    rng = np.random.default_rng(seed)
    jobs = [i for i in range(len(ACTIONS)) for _ in range(per_class)]
    labels = [jobs[j] for j in rng.permutation(len(jobs))]
    blurred = rendered([ACTIONS[y] for y in labels], rng)
    return [str(root / f"clip_{k:04d}.mp4") for k in range(len(labels))], labels, blurred


def eval_set(root: Path, train_per_class: int = 12, test_per_class: int = 8, seed: int = 0):
    """``(paths, labels, blurred)`` of the test clips of ``generate_object_actions(..., motion_blur=True)``."""
    from videossl.data.actions import slug
    from videossl.data.object_actions import ACTIONS

    rng = np.random.default_rng(seed)
    paths, labels, blurred = [], [], []
    for y, a in enumerate(ACTIONS):
        rendered([a] * train_per_class, rng)
        blurred += rendered([a] * test_per_class, rng)
        paths += [str(root / "test" / slug(a) / f"{slug(a)}_{k:03d}.mp4") for k in range(test_per_class)]
        labels += [y] * test_per_class
    return paths, labels, blurred


def summary(probs: torch.Tensor, labels, blurred) -> dict:
    """Argmax agreement with the true class (all / blurred / sharp clips), the mass on the true class and the
    target's entropy, and per pair member the share of its clips whose argmax is the pair's other member."""
    y, b = torch.tensor(labels), torch.tensor(blurred)
    hit = (probs.argmax(1) == y).float()
    out = {"top1": hit.mean().item(), "top1_blurred": hit[b].mean().item(), "top1_sharp": hit[~b].mean().item(),
           "n_blurred": int(b.sum()), "n_sharp": int((~b).sum()),
           "true_mass": probs[torch.arange(len(y)), y].mean().item(),
           "entropy": (-(probs * probs.clamp_min(1e-12).log()).sum(1)).mean().item(), "swapped": {}}
    for i, j in PAIRS:
        for c, other in ((i, j), (j, i)):
            for kind, m in (("blurred", b), ("sharp", ~b)):
                sel = (y == c) & m
                if sel.any():
                    out["swapped"][f"{c}:{kind}"] = [int((probs[sel].argmax(1) == other).sum()), int(sel.sum())]
    return out


def main(argv=None) -> int:
    from videossl.concepts import embed_concepts, load_concepts
    from videossl.models import create_model
    from videossl.utils import atomic_write_json, machine_info
    from videossl.zeroshot import ZeroShotClassifier

    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", nargs="+", metavar="NAME=WEIGHTS")
    ap.add_argument("--unlabelled", required=True, help="the motion_blur=True unlabelled set (per class 20, seed 1)")
    ap.add_argument("--eval", required=True, help="lss_miniature's blur set folder (seed 0, 12 train / 8 test)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    concepts = str(root / "videossl" / "prompts" / "object_actions.json")
    sets = {"train_targets": unlabelled_set(Path(args.unlabelled)), "test": eval_set(Path(args.eval))}
    res = {"machine": machine_info()}
    for spec in args.rows:
        name, _, weights = spec.partition("=")
        model = create_model("mobilenetv2-lit", pretrained=weights).eval()
        E = F.normalize(embed_concepts(load_concepts(concepts), model).actions.float(), dim=-1)
        clf = ZeroShotClassifier(model, concepts, clip_len=8, batch_size=16)
        res[name] = {}
        for kind, (paths, labels, blurred) in sets.items():
            names, emb, failed = clf.embed_videos(paths)
            assert not failed and names == paths, failed
            probs = F.softmax((1 / 0.07) * F.normalize(emb.float(), dim=-1) @ E.t() / 0.04, dim=-1)
            res[name][kind] = summary(probs, labels, blurred)
        print(name, json.dumps(res[name]), flush=True)
    atomic_write_json(Path(args.out), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
