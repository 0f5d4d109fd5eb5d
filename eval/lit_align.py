"""LiT-style alignment of the ImageNet MobileNetV2 to all-MiniLM-L6-v2: the image model of ``mobilenetv2-lit``.

Both towers are locked (the ImageNet trunk and the sentence encoder); only ``head`` (pooled trunk feature ->
384-d) is learnt, contrastively, on captioned stills of :func:`videossl.data.object_actions.render_still`
(object, colour and place; never an action). The captions come from a small closed set (objects x colours x
places), so instead of in-batch negatives (where duplicates would be false negatives) every image is scored
against *all* distinct captions: InfoNCE over the caption set, CLIP's logit scale 1/0.07 fixed. The trunk
features are computed once (the trunk is frozen), so training the head takes seconds.

    PYTHONPATH=$PWD python eval/lit_align.py --out videossl/checkpoints/mobilenetv2-lit-image.safetensors

``--captions web`` (the ablation of ``eval/results/lss-miniature.md``) trains on
:func:`videossl.data.object_actions.render_web_still` instead: frames of the (slow-shutter) clips whose captions
name the clip's action with probability ``--q``, as web alt-text often does ("a red car driving near the bottom").

Writes the head (and the zero temporal layers) as float16 safetensors, and ``OUT.log.json`` (loss, accuracy of
the caption retrieval on held-out stills, timings, machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def still_features(model, n: int, seed: int, batch: int = 64, captions: str = "object",
                   q: float = 0.75) -> tuple[torch.Tensor, list[str]]:
    """Pooled trunk features (mean and max, the head's input) of ``n`` captioned stills, and their captions
    (``captions``: ``object`` stills of :func:`render_still`, ``web`` of :func:`render_web_still` at ``q``)."""
    from videossl.data.object_actions import render_still, render_web_still
    from videossl.io.transforms import to_tensor_normalized

    rng = np.random.default_rng(seed)
    size = model.input_size[0]
    draw = (lambda: render_still(rng, size)) if captions == "object" else (lambda: render_web_still(rng, size, q))
    stills = [draw() for _ in range(n)]
    feats = []
    with torch.no_grad():
        for i in range(0, n, batch):
            x = to_tensor_normalized(np.stack([f for f, _ in stills[i:i + batch]]), model.mean, model.std)
            maps = model.encode_frames(x)
            feats.append(torch.cat([maps.mean((2, 3)), maps.amax((2, 3))], 1))
    return torch.cat(feats), [c for _, c in stills]


def train_head(model, feats, caps, text, steps: int, lr: float, seed: int, scale: float = 1 / 0.07) -> list[float]:
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.head.parameters(), lr=lr, weight_decay=0.05)
    losses = []
    for step in range(steps):
        idx = torch.randint(len(feats), (256,))
        z = F.normalize(model.head.mlp(feats[idx]), dim=-1)
        loss = F.cross_entropy(scale * z @ text.t(), caps[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        for g in opt.param_groups:  # cosine decay
            g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * (step + 1) / steps))
        losses.append(loss.item())
    return losses


def action_word_top1(vocab: list[str], pred, held) -> float:
    """Of the held-out stills whose caption names an action, the share whose top caption names the same one
    (the caption's exact match is ambiguous: the same frame is also captioned without the word)."""
    from videossl.data.object_actions import ACTIONS

    words = {a.split()[1] for a in ACTIONS}
    word = lambda i: next((w for w in vocab[i].split() if w in words), None)  # noqa: E731
    named = [(int(p), int(h)) for p, h in zip(pred, held) if word(int(h))]
    return float(np.mean([word(p) == word(h) for p, h in named])) if named else float("nan")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--stills", type=int, default=4000)
    ap.add_argument("--held-out", type=int, default=500)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--captions", choices=("object", "web"), default="object",
                    help="object: object/colour/place captions (the shipped image model); web: frames of the "
                         "slow-shutter clips, captions naming the action with probability --q")
    ap.add_argument("--q", type=float, default=0.75, help="share of web captions that name the action")
    args = ap.parse_args(argv)
    if not 0.0 <= args.q <= 1.0:
        ap.error(f"--q must be in [0, 1], got {args.q}")
    return args


def main(argv=None) -> int:
    from videossl.models import create_model
    from videossl.utils import atomic_write_text, machine_info, save_safetensors_atomic

    args = parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    torch.manual_seed(args.seed)  # the head's initialisation: without it two runs of one command differ
    model = create_model("mobilenetv2-lit", pretrained=None)
    feats, captions = still_features(model, args.stills + args.held_out, args.seed, captions=args.captions, q=args.q)
    t_feat = time.time() - t0
    vocab = sorted(set(captions))
    text = F.normalize(model.encode_text(vocab).float(), dim=-1)
    caps = torch.tensor([vocab.index(c) for c in captions])
    n = args.stills
    losses = train_head(model, feats[:n], caps[:n], text, args.steps, args.lr, args.seed)
    with torch.no_grad():
        pred = (F.normalize(model.head.mlp(feats[n:]), dim=-1) @ text.t()).argmax(1)
    obj = lambda i: vocab[i].split()[5]  # noqa: E731  ("a photo of a COLOUR OBJECT ...")
    held = caps[n:]
    log = {"stills": n, "held_out": args.held_out, "captions": len(vocab), "steps": args.steps, "lr": args.lr,
           "seed": args.seed, "loss_first10": float(np.mean(losses[:10])), "loss_last10": float(np.mean(losses[-10:])),
           "held_out_caption_top1": float((pred == held).float().mean()),
           "held_out_object_top1": float(np.mean([obj(int(p)) == obj(int(h)) for p, h in zip(pred, held)])),
           "feature_seconds": round(t_feat, 1), "seconds": round(time.time() - t0, 1), "machine": machine_info()}
    meta = {"model": "mobilenetv2-lit", "stage": "lit-image"}
    if args.captions == "web":  # the object run's files stay as they were
        log.update(captions_kind="web", q=args.q, held_out_action_word_top1=action_word_top1(vocab, pred, held))
        meta["captions"] = "web"
    state = {k: v.half() for k, v in model.state_dict().items() if not k.startswith("trunk.")}
    save_safetensors_atomic(state, Path(args.out), metadata=meta)
    atomic_write_text(Path(args.out + ".log.json"), json.dumps(log, indent=1) + "\n")
    print(json.dumps(log, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
