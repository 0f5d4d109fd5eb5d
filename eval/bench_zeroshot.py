"""Zero-shot throughput and accuracy on the synthetic action set.

Part 1 — speed, 8-frame clips, in one process on the same videos and batches:

- (a) ``model only`` — ``model.encode_video`` on batches decoded, resized and normalised
  beforehand (the most any pipeline can reach);
- (b) ``zero-shot``  — :meth:`ZeroShotClassifier.logits` from the mp4 files (decoding on worker
  threads, batching, forward, text scoring all included).

(a) and (b) alternate for ``--repeats`` rounds (the machine is shared: alternating keeps load
changes from favouring one side) and the median of each is reported, with b/a (target ≥ 0.9 on a GPU).

Part 2 — accuracy: zero-shot top-1/top-5 and linear-probe top-1 (probe trained on the set's
train videos) of the model (temporal, ``encode_video``) and of its frame-averaged baseline
(:class:`videossl.zeroshot.FrameAveraged`: the mean of one-frame clip embeddings, same weights).
``videossl-tiny`` with its shipped checkpoint when present, otherwise the named fallback.

    python eval/bench_zeroshot.py --out eval/results/zeroshot.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def decode_clips(paths, model, clip_len: int) -> torch.Tensor:
    """Reference batches for (a): the clips (b) reads, decoded and normalised up front."""
    from videossl.io import open_video, samplers
    from videossl.io.transforms import normalize_on_device, resize_short_center_crop, to_uint8_tensor

    clips = []
    for p in paths:
        r = open_video(p)
        frames = r.get_batch(samplers.uniform_indices(len(r), clip_len))
        clips.append(to_uint8_tensor(resize_short_center_crop(frames, tuple(model.input_size))))
    return normalize_on_device(torch.stack(clips), model.mean, model.std)


@torch.inference_mode()
def model_only(model, clips: torch.Tensor, batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(clips), batch):
        model.encode_video(clips[i:i + batch])
    return len(clips) / (time.perf_counter() - t0)


def zeroshot_speed(clf, paths) -> float:
    t0 = time.perf_counter()
    clf.logits(paths)
    assert not clf.failed, clf.failed
    return len(paths) / (time.perf_counter() - t0)


def accuracy(model, root: Path, concepts: str, clip_len: int, batch: int) -> dict:
    from videossl.actions import ucf101_splits
    from videossl.actions.evaluate import topk_hits
    from videossl.linear_probe import evaluate_probe, fit_linear_probe
    from videossl.zeroshot import ZeroShotClassifier

    split = ucf101_splits(root, (1,))[0]
    clf = ZeroShotClassifier(model, concepts, clip_len=clip_len, batch_size=batch)
    from videossl.concepts import readable_name

    # the concept names ("moving left") are the set's classes ("moving_left") in the same order
    assert [readable_name(c) for c in clf.class_names] == [readable_name(c) for c in split.classes]
    train_names, train_emb, f1 = clf.embed_videos([p for p, _ in split.train])
    test_names, test_emb, f2 = clf.embed_videos([p for p, _ in split.test])
    assert not f1 and not f2, f1 + f2
    y_test = torch.tensor([y for _, y in split.test])
    logits = clf.scores(test_emb).cpu()
    probe = fit_linear_probe(train_emb.cpu(), [str(y) for _, y in split.train])
    from videossl.metrics.disentanglement import collapse_report

    return {"zs_top1": float(topk_hits(logits, y_test, 1).float().mean()),
            "zs_top5": float(topk_hits(logits, y_test, 5).float().mean()),
            "lp_top1": evaluate_probe(probe, test_emb.cpu(), [str(y) for _, y in split.test])["top1"],
            "effective_rank": collapse_report(test_emb.float().cpu().numpy())["effective_rank"],
            "train": len(train_names), "test": len(test_names)}


def main() -> None:
    from videossl.data.actions import generate_actions
    from videossl.models import create_model
    from videossl.models.shipped import WEIGHTS_FILE
    from videossl.utils import machine_info, resolve_device
    from videossl.zeroshot import FrameAveraged, ZeroShotClassifier

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="videossl-tiny")
    ap.add_argument("--fallback", default="tiny-tclip", help="accuracy model when videossl-tiny has no checkpoint")
    ap.add_argument("--concepts", default=str(Path(__file__).resolve().parents[1] / "prompts" / "synthetic_actions.json"))
    ap.add_argument("--videos", type=int, default=48, help="videos timed in part 1")
    ap.add_argument("--train-per-class", type=int, default=20)
    ap.add_argument("--test-per-class", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--clip-len", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="append the markdown section to this file")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    load0 = os.getloadavg()[0]
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shipped = args.model != "videossl-tiny" or WEIGHTS_FILE.is_file()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        per = -(-args.videos // 7)
        speed_root = generate_actions(Path(tmp) / "speed", train_per_class=0, test_per_class=per, seed=1)
        paths = sorted(str(p) for p in (speed_root / "test").rglob("*.mp4"))[: args.videos]
        # speed does not depend on the weights: the architecture with random weights when none shipped
        model = create_model(args.model, pretrained="default" if shipped else None, device=str(dev))
        clf = ZeroShotClassifier(model, args.concepts, clip_len=args.clip_len, batch_size=args.batch_size, device=dev)
        clips = decode_clips(paths, model, args.clip_len).to(dev)
        model_only(model, clips[: args.batch_size], args.batch_size)  # warm-up
        a, b = [], []
        for _ in range(args.repeats):
            a.append(model_only(model, clips, args.batch_size))
            b.append(zeroshot_speed(clf, paths))
        ma, mb = statistics.median(a), statistics.median(b)
        lines += [f"## {'GPU' if dev.type == 'cuda' else 'CPU'}: speed and accuracy", "",
                  f"Measured {started} on {machine_info()}, device `{dev}`.", "",
                  f"Speed: {len(paths)} synthetic videos (112 px, 16 frames), {args.clip_len}-frame clips, batch "
                  f"{args.batch_size}, `{args.model}` ({'shipped weights' if shipped else 'random weights: no checkpoint yet'}),"
                  f" median of {args.repeats} alternating rounds.", "",
                  "| (a) model only, videos/s | (b) zero-shot from mp4, videos/s | b/a | rounds a | rounds b |",
                  "|---|---|---|---|---|",
                  f"| {ma:.1f} | {mb:.1f} | {mb / ma:.2f} | {', '.join(f'{x:.1f}' for x in a)} | "
                  f"{', '.join(f'{x:.1f}' for x in b)} |", ""]
        acc_name = args.model if shipped else args.fallback
        acc_model = model if shipped else create_model(acc_name, device=str(dev))
        root = generate_actions(Path(tmp) / "acc", args.train_per_class, args.test_per_class, seed=0)
        rows = []
        for label, m in ((f"{acc_name} (temporal)", acc_model), (f"{acc_name} frame-averaged", FrameAveraged(acc_model))):
            t0 = time.perf_counter()
            r = accuracy(m, root, args.concepts, args.clip_len, args.batch_size)
            rows.append(f"| {label} | {100 * r['zs_top1']:.1f} | {100 * r['zs_top5']:.1f} | {100 * r['lp_top1']:.1f} "
                        f"| {r['train']} / {r['test']} | {time.perf_counter() - t0:.0f} |")
        why = ("" if shipped else f" `videossl-tiny` has no checkpoint yet ({WEIGHTS_FILE.name} absent), so the "
               f"accuracy rows use `{acc_name}` with random weights: expect chance (14.3% top-1 over 7 classes).")
        lines += [f"Accuracy on the synthetic action set (7 classes, chance 14.3%; concepts `prompts/synthetic_actions.json`, "
                  f"{args.clip_len}-frame clips).{why}", "",
                  "| model | zero-shot top-1 % | zero-shot top-5 % | linear-probe top-1 % | train / test videos | s |",
                  "|---|---|---|---|---|---|", *rows, "",
                  f"Load average (1 min) at start / end: {load0:.1f} / {os.getloadavg()[0]:.1f} "
                  f"(CPU cores: {os.cpu_count()}).", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        head = "" if out.exists() else (
            "# Zero-shot action recognition: throughput and accuracy\n\nWritten by `eval/bench_zeroshot.py` "
            "(command: `python eval/bench_zeroshot.py --out eval/results/zeroshot.md`); one section per run.\n\n")
        with open(out, "a") as f:
            f.write(head + text + "\n")


if __name__ == "__main__":
    main()
