"""Track the people in a real street video with nothing but the toolkit: ``unitrack track --task mot vtest.avi``.

The video is Debian's ``opencv-doc`` ``examples/data/vtest.avi`` (768x576, 795 frames at 10 fps, several people
walking); the script installs the package with apt-get when it is missing and it may (root), else says how.
Each run is the CLI line with the given extra arguments (none for ``default``), run in ``--work`` (so the
detections cache ``runs/track/detections/`` is shared by the runs: only the first one detects). It records
detections per frame (the cached det.txt after the score threshold), the tracks (count, lengths), the CLI's
time split (detection / decode / features / pooling / association), and extracts frames of the rendered mp4 as
small JPEGs into eval/results/ for judging identities by eye. The judgement is written by hand below the
``<!-- by eye -->`` line of the results file; the script keeps that part when it rewrites the figures.

    python eval/own_video.py                                   # the default line, the whole clip
    python eval/own_video.py --run motion="--opt use_appearance=false" --run default-cut="--end 24"
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
MARK = "<!-- by eye -->"


def find_video() -> Path:
    if VTEST.is_file():
        return VTEST
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "opencv-doc"], check=False)
    listed = subprocess.run(["dpkg", "-L", "opencv-doc"], capture_output=True, text=True).stdout.split()
    hits = [Path(p) for p in listed if p.endswith("vtest.avi")]
    if hits and hits[0].is_file():
        return hits[0]
    sys.exit("error: vtest.avi not found: apt-get install opencv-doc (Debian/Ubuntu) ships it in "
             "/usr/share/doc/opencv-doc/examples/data/")


def run_cli(video: Path, work: Path, extra: list[str]) -> tuple[float, str, str]:
    cmd = [sys.executable, "-m", "unitrack", "track", "--task", "mot", str(video), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"error: {shlex.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return wall, p.stdout, p.stderr


def track_stats(txt: Path) -> dict:
    from unitrack.data.mot import read_mot_txt

    d = read_mot_txt(txt)
    ids, length = np.unique(d.ids, return_counts=True)
    return {"tracks": len(ids), "rows": len(d), "long": int((length >= 50).sum()),
            "median_len": float(np.median(length)) if len(ids) else 0.0,
            "ge20": int((length >= 20).sum()), "frames_with_tracks": len(np.unique(d.frame))}


def det_stats(det: Path, frames: int) -> dict:
    from unitrack.data.mot import read_mot_txt
    from unitrack.detect import HOGConfig

    d = read_mot_txt(det)
    keep = d.conf >= HOGConfig().score_thresh
    per = np.bincount(d.frame[keep], minlength=frames)
    return {"file": det.name, "raw": len(d), "kept": int(keep.sum()), "mean": per.mean(),
            "p10": np.percentile(per, 10), "p50": np.percentile(per, 50), "p90": np.percentile(per, 90),
            "zero": int((per == 0).sum()), "h50": float(np.median(d.boxes[keep, 3]))}


def extract_frames(mp4: Path, indices: list[int], label: str, width: int = 768) -> list[Path]:
    import cv2

    cap = cv2.VideoCapture(str(mp4))
    out = []
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        if not ok:
            continue
        f = cv2.resize(f, (width, round(f.shape[0] * width / f.shape[1])), interpolation=cv2.INTER_AREA)
        cv2.putText(f, f"frame {i}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        path = ROOT / "eval/results" / f"own-video-{label}-{i:03d}.jpg"
        cv2.imwrite(str(path), f, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append(path)
    return out


def identity_strip(video: Path, txt: Path, label: str, tracks: int = 8, samples: int = 10) -> Path:
    """The ``tracks`` longest tracks, one row each: ``samples`` crops (80x140 px around the box centre) spread
    over the track's life, so a change of person inside one id is visible at a glance."""
    import cv2

    from unitrack.data.mot import read_mot_txt

    d = read_mot_txt(txt)
    ids, length = np.unique(d.ids, return_counts=True)
    picks = {}  # track id -> [(frame, cx, cy)]
    for k in ids[np.argsort(-length, kind="stable")][:tracks]:
        fr, bx = d.frame[d.ids == k], d.boxes[d.ids == k]
        sel = np.linspace(0, len(fr) - 1, samples).round().astype(int)
        picks[int(k)] = [(int(fr[i]), bx[i, 0] + bx[i, 2] / 2, bx[i, 1] + bx[i, 3] / 2) for i in sel]
    need = {f for v in picks.values() for f, _, _ in v}
    cap, frames, t = cv2.VideoCapture(str(video)), {}, 0
    while need - frames.keys():
        ok, f = cap.read()
        if not ok:
            break
        if t in need:
            frames[t] = f
        t += 1
    rows = []
    for k, items in picks.items():
        tiles = []
        for f, cx, cy in items:
            x0, y0 = int(max(0, cx - 40)), int(max(0, cy - 70))
            im = frames[f][y0:y0 + 140, x0:x0 + 80]
            im = cv2.copyMakeBorder(im, 0, 140 - im.shape[0], 0, 80 - im.shape[1], cv2.BORDER_CONSTANT)
            cv2.putText(im, str(f), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
            tiles.append(im)
        lab = np.zeros((140, 40, 3), np.uint8)
        cv2.putText(lab, str(k), (2, 70), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        rows.append(np.hstack([lab, *tiles]))
    path = ROOT / "eval/results" / f"own-video-{label}-identities.jpg"
    cv2.imwrite(str(path), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", default=None, metavar='LABEL="ARGS"',
                    help='a run: label and extra CLI arguments (default: default="")')
    ap.add_argument("--work", default=str(ROOT / "runs/own-video"), help="working folder of the runs")
    ap.add_argument("--frames", default="160,650", help="mp4 frames to extract (of full-clip runs)")
    ap.add_argument("--out", default=str(ROOT / "eval/results/own-video.md"))
    args = ap.parse_args(argv)
    from videossl.utils import atomic_write_text, machine_info

    video = find_video()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = [r.partition("=")[::2] for r in (args.run or ["default="])]
    lines = [f"# Own video: people in `vtest.avi` with `unitrack track --task mot` and no detections", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine_info()}; `python eval/own_video.py "
             + " ".join(f"--run {shlex.quote(f'{a}={b}')}" for a, b in runs) + "`.", "",
             f"Video: `{video}` (768x576, 795 frames, 10 fps). Detector: the default `--detector hog`.", ""]
    for label, extra in runs:
        extra_args = shlex.split(extra)
        wall, stdout, stderr = run_cli(video, work, extra_args)
        frames = int(re.search(r"mot: (\d+) frames", stdout).group(1))
        st = track_stats(work / "runs/track/vtest.txt")
        det = re.search(r"^detections: (?:cached|wrote) (.*)$", stderr, re.M).group(1)
        ds = det_stats(work / det if not Path(det).is_absolute() else Path(det), frames)
        m = re.search(r"^time: (.*)$", stdout, re.M)
        lines += [f"## Run `{label}`: `unitrack track --task mot vtest.avi {extra}`".rstrip() + "", "",
                  f"- frames: {frames}; wall {wall:.0f} s ({frames / wall:.2f} fps end to end, model load included)",
                  f"- time split (the CLI's `time:` line): {m.group(1) if m else 'n/a'}",
                  f"- detections (`{ds['file']}`, {ds['raw']} raw boxes, {ds['kept']} at score >= threshold): "
                  f"{ds['mean']:.2f} per frame (p10/p50/p90 {ds['p10']:.0f}/{ds['p50']:.0f}/{ds['p90']:.0f}), "
                  f"{ds['zero']} frames without any, median box height {ds['h50']:.0f} px",
                  f"- tracks: {st['tracks']} ids over {st['rows']} boxes; {st['ge20']} tracks of >= 20 frames, "
                  f"{st['long']} of >= 50; median length {st['median_len']:g} frames", ""]
        if frames == 795:
            idx = [int(i) for i in args.frames.split(",")]
            shots = extract_frames(work / "runs/track/vtest.mp4", idx, label)
            strip = identity_strip(video, work / "runs/track/vtest.txt", label)
            lines += [" ".join(f"![frame {p.stem[-3:]}]({p.name})" for p in shots), "",
                      f"The 8 longest tracks, one row each, 10 crops over each track's life (frame number in the "
                      f"corner): ![identities]({strip.name})", ""]
            shutil.copy(work / "runs/track/vtest.mp4", work / f"vtest-{label}.mp4")
            shutil.copy(work / "runs/track/vtest.txt", work / f"vtest-{label}.txt")
    out = Path(args.out)
    kept = out.read_text().split(MARK, 1)[1] if out.is_file() and MARK in out.read_text() else "\n"
    atomic_write_text(out, "\n".join(lines) + "\n" + MARK + kept)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
