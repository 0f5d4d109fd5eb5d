"""Batched feature extraction: videos in, one safetensors file of features per video out.

Why it is built this way (the naive loop — read a frame, preprocess, forward
with batch 1 — leaves a GPU idle most of the time):

* decoding and resizing run on worker threads (:func:`videossl.io.prefetch_videos`),
  several videos at once, each read sequentially, in bounded queues;
* model batches are filled across frame/clip boundaries *and across videos*,
  so short clips still give full batches;
* on CUDA, uint8 frames go into pinned host memory, are copied with
  ``non_blocking=True`` and normalised on the device (4x fewer bytes than
  float), the forward runs under bf16 autocast, and the result of batch *k*
  is fetched only after batch *k+1* has been launched;
* each video's file is written atomically once all its outputs are in, so a
  stopped run restarts where it left off (finished files are skipped when
  they were made with the same settings), and one corrupt video is reported
  and skipped without stopping the others;
* the output folder is checked writable before the model is built; a disk that
  fills up mid-run stops the run cleanly at the first video that cannot be
  written (every later one would fail the same way): what was written stays,
  ``manifest.jsonl`` lists it (``done`` / ``not_written`` / ``not_tried``) with
  ``failed.txt``, and :class:`ExtractionStopped` (exit 4) says so in one line.

Outputs. Dense (``dense=True``, ``model.encode_frames``): ``features``
``[N,C,h,w]``, ``indices`` ``[N]`` (frame numbers), ``timestamps`` ``[N]`` (s).
Clip level (``model.encode_video``): ``clip_embeddings`` ``[K,D]`` for K clips
of ``clip_len`` frames, ``clip_indices`` ``[K,T]``, ``embedding`` ``[D]`` (their
mean). ``num_frames=T`` gives one clip of T frames spread over the video;
``fps=F`` resamples to F frames/s and cuts consecutive clips of ``clip_len``.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from videossl import dist as vdist
from videossl.errors import InputError
from videossl.io.discover import find_videos
from videossl.io import VideoJob, prefetch_videos, samplers
from videossl.io.transforms import normalize_on_device, resize, resize_short_center_crop, to_uint8_tensor
from videossl.utils import autocast_for, resolve_device, save_safetensors_atomic
from videossl.utils.outputs import OutputError, check_output_dir, display_path, is_disk_full, write_failure

DECODE_CHUNK_FRAMES = 16  # frames per decode batch: bounds raw-frame memory (1080p: 16 x 6 MB)
DEFAULT_CLIP_LEN = 8


@dataclass
class Settings:
    """What decides a video's features; a finished file is reused only when these match."""

    model: str
    dense: bool = False
    num_frames: int | None = None
    fps: float | None = None
    clip_len: int = DEFAULT_CLIP_LEN
    size: tuple[int, ...] | None = None
    dtype: str = "float32"

    def metadata(self) -> dict[str, str]:
        return {"videossl_settings": json.dumps(self.__dict__, sort_keys=True, default=list)}


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    frames: int = 0
    seconds: float = 0.0
    stopped: str | None = None  # why the run stopped early: an output could not be written (disk full)
    not_tried: list[str] = field(default_factory=list)  # videos left for the re-run after a stop


class ExtractionStopped(OutputError):
    """An output could not be written (disk full, read-only): the run stopped cleanly after writing the
    manifest and ``failed.txt`` for what it did; ``summary`` says what was finished and what is left."""

    def __init__(self, message: str, summary: Summary):
        super().__init__(None, message)
        self.summary = summary


def check_settings(num_frames, fps, clip_len, batch_size, num_threads=1) -> None:
    """Settings that would silently mean something else (``num_frames=0`` used to become 8)."""
    if num_frames is not None and int(num_frames) < 1:
        raise InputError(None, f"num_frames must be at least 1, got {num_frames}")
    if fps is not None and not (float(fps) > 0 and float(fps) < float("inf")):
        raise InputError(None, f"fps must be a number above 0, got {fps}")
    for what, value in (("clip_len", clip_len), ("batch_size", batch_size), ("decode threads", num_threads)):
        if int(value) < 1:
            raise InputError(None, f"{what} must be at least 1, got {value}")


def plan_units(num_frames: int, video_fps: float, s: Settings) -> list[list[int]]:
    """The units a video is cut into: single frames (dense) or clips of T frames (clip level)."""
    if s.dense:
        if s.num_frames:
            frames = samplers.uniform_indices(num_frames, s.num_frames)
        elif s.fps:
            frames = samplers.fps_indices(num_frames, video_fps, s.fps)
        else:
            frames = list(range(num_frames))
        return [[i] for i in frames]
    if s.fps:
        frames = samplers.fps_indices(num_frames, video_fps, s.fps)
        return [[frames[j] for j in w] for w in samplers.sliding_windows(len(frames), s.clip_len)]
    return [samplers.uniform_indices(num_frames, s.num_frames or s.clip_len)]


def _decode_batches(units: list[list[int]]) -> list[list[int]]:
    """Group whole units into decode batches of about DECODE_CHUNK_FRAMES frames."""
    per = max(1, DECODE_CHUNK_FRAMES // len(units[0]))
    return [sum(units[i:i + per], []) for i in range(0, len(units), per)]


class _Video:
    def __init__(self, key: str, info: dict, units: list[list[int]]):
        self.key, self.info, self.units = key, info, units
        self.outputs: list[torch.Tensor | None] = [None] * len(units)
        self.queued = 0  # units handed to the batcher so far
        self.received = 0  # units whose outputs are back
        self.decoded = False


class Extractor:
    """Runs one model over many videos; :meth:`run` yields ``(key, tensors | exception, info)`` per video."""

    def __init__(self, model, settings: Settings, batch_size: int = 32, device: str | torch.device = "auto",
                 num_threads: int = 2, max_open: int = 2):
        self.model, self.s = model, settings
        self.batch_size = max(1, int(batch_size))
        self.device = resolve_device(device)
        self.num_threads, self.max_open = num_threads, max_open
        self.cuda = self.device.type == "cuda"
        size = settings.size or tuple(model.input_size)
        if settings.dense:
            self._resize = (lambda f: resize(f, size[0])) if len(size) == 1 else (lambda f: resize(f, size))
        else:
            size = size * 2 if len(size) == 1 else size
            self._resize = lambda f: resize_short_center_crop(f, size)
        self.out_dtype = getattr(torch, settings.dtype)

    def transform(self, frames) -> torch.Tensor:
        """Worker-thread stage: resize/crop uint8 frames and lay them out as ``[N,3,h,w]``."""
        # not pinned here: the batcher concatenates parts straight into a pinned staging buffer
        return to_uint8_tensor(self._resize(frames))

    # -- the model side ---------------------------------------------------------------------
    @torch.inference_mode()
    def _forward(self, parts: list[torch.Tensor]):
        n = sum(len(p) for p in parts)
        if self.cuda:
            host = torch.empty((n, *parts[0].shape[1:]), dtype=torch.uint8, pin_memory=True)
            torch.cat(parts, out=host)
            x = host.to(self.device, non_blocking=True)
        else:
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
        x = normalize_on_device(x, self.model.mean, self.model.std)
        with autocast_for(self.device):
            y = self.model.encode_frames(x) if self.s.dense else self.model.encode_video(x)
        y = y.to(self.out_dtype)
        if not self.cuda:
            return y, None
        out = torch.empty(y.shape, dtype=y.dtype, pin_memory=True)
        out.copy_(y, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return out, done

    def run(self, videos: Sequence[tuple[str, str]]) -> Iterator[tuple[str, Any, dict]]:
        s, videos_by_key = self.s, {}
        pending: deque = deque()  # (key, first unit position, uint8 tensor of units)
        in_flight: deque = deque()  # (output tensor, cuda event | None, [(key, pos, count)])
        finished: deque = deque()

        def plan(reader):
            units = plan_units(len(reader), reader.fps, s)
            return _decode_batches(units)

        def resolve(all_: bool) -> None:
            while in_flight and (all_ or len(in_flight) > 1):
                out, event, owners = in_flight.popleft()
                if event is not None:
                    event.synchronize()
                start = 0
                for key, pos, count in owners:
                    v = videos_by_key.get(key)
                    if v is not None:  # None: the video failed after this batch was launched
                        v.outputs[pos:pos + count] = list(out[start:start + count])
                        v.received += count
                        check_finished(v)
                    start += count

        def launch(n: int) -> None:
            parts, owners = [], []
            while n > 0 and pending:
                key, pos, x = pending.popleft()
                take = min(n, len(x))
                if take < len(x):
                    pending.appendleft((key, pos + take, x[take:]))
                parts.append(x[:take])
                owners.append((key, pos, take))
                n -= take
            out, event = self._forward(parts)
            in_flight.append((out, event, owners))
            resolve(all_=not self.cuda)  # on CUDA keep one batch in flight so the GPU never waits on us

        def pending_units() -> int:
            return sum(len(x) for _, _, x in pending)

        def check_finished(v: _Video) -> None:
            if v.decoded and v.received == len(v.units):
                del videos_by_key[v.key]
                finished.append(v)

        def flush_shape(shape) -> None:
            """Batches need one frame size; with an aspect-keeping size, videos may differ."""
            if pending and pending[-1][2].shape[1:] != shape:
                while pending:
                    launch(self.batch_size)

        jobs = (VideoJob(key, path, plan) for key, path in videos)
        for ev in prefetch_videos(jobs, self.transform, self.num_threads, self.max_open):
            if ev.kind == "open":
                units = plan_units(ev.info["frames"], ev.info["fps"], s)
                videos_by_key[ev.key] = _Video(ev.key, ev.info, units)
            elif ev.kind == "batch":
                v = videos_by_key[ev.key]
                x = ev.data if s.dense else ev.data.unflatten(0, (-1, len(v.units[0])))
                flush_shape(x.shape[1:])
                pending.append((ev.key, v.queued, x))
                v.queued += len(x)
                while pending_units() >= self.batch_size:
                    launch(self.batch_size)
            elif ev.kind == "done":
                v = videos_by_key[ev.key]
                v.decoded = True
                check_finished(v)
            else:  # error: drop the video's queued frames; outputs already in flight are ignored
                v = videos_by_key.pop(ev.key, None)
                for item in [p for p in pending if p[0] == ev.key]:
                    pending.remove(item)
                yield ev.key, ev.error, (v.info if v else {})
            while finished:
                yield self._result(finished.popleft())
        while pending:
            launch(self.batch_size)
        resolve(all_=True)
        while finished:
            yield self._result(finished.popleft())

    def _result(self, v: _Video) -> tuple[str, dict, dict]:
        fps = v.info.get("fps") or 0.0
        idx = torch.tensor(v.units, dtype=torch.int64)
        if self.s.dense:
            tensors = {"features": torch.stack(v.outputs), "indices": idx[:, 0],
                       "timestamps": idx[:, 0].double() / fps if fps else idx[:, 0].double()}
        else:
            emb = torch.stack(v.outputs)
            tensors = {"clip_embeddings": emb, "clip_indices": idx, "embedding": emb.float().mean(0).to(emb.dtype)}
        return v.key, tensors, dict(v.info, sampled_frames=sum(len(u) for u in v.units))


# -- files on disk ----------------------------------------------------------------------------
def _is_finished(path: Path, settings: Settings) -> bool:
    """A finished file exists (writes are atomic, so it is complete) and was made with these settings."""
    if not path.is_file():
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("videossl_settings") == settings.metadata()["videossl_settings"]
    except Exception:  # unreadable (e.g. written by something else): recompute it
        return False


def _frame_count(path: str) -> int:
    """A video's frame count from its reader's metadata (0 when it cannot be opened: it fails later)."""
    from videossl.io import open_video

    try:
        return len(open_video(path))
    except Exception:
        return 0


def _plan(found: list[tuple[str, str]], out: Path, settings: Settings, rank: int, world: int,
          summary: Summary) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Videos still to do (finished ones go to ``summary.skipped``) and, with several ranks, their
    frame counts. Each rank checks an interleaved slice and the slices are gathered, so every rank
    holds the same plan, taken before any rank writes a file."""
    mine = {}
    for i in range(rank, len(found), world):
        name, path = found[i]
        done = _is_finished(out / f"{name}.safetensors", settings)
        mine[i] = (done, 0 if done or world == 1 else _frame_count(path))
    scanned = {}
    for part in vdist.all_gather_object(mine):
        scanned.update(part)
    todo, frames_of = [], {}
    for i, (name, path) in enumerate(found):
        done, frames = scanned[i]
        if done:
            summary.skipped.append(name)
        else:
            todo.append((name, path))
            frames_of[name] = frames
    return todo, frames_of


def model_name(model) -> str:
    return str(getattr(model, "name", None) or type(model).__name__)


def extract_features(inputs: Sequence[str | os.PathLike], model, out_dir: str | os.PathLike, *,
                     batch_size: int = 32, num_frames: int | None = None, fps: float | None = None,
                     dense: bool = False, clip_len: int = DEFAULT_CLIP_LEN, size: Sequence[int] | None = None,
                     dtype: str = "float32", device: str | torch.device = "auto", num_threads: int = 2,
                     max_open: int = 2, progress: bool = True) -> Summary:
    """Extract features of every video the inputs name into ``out_dir/<name>.safetensors``.

    ``model`` is a model object or a registry name (built with ``create_model`` on ``device``).
    Videos whose file already exists with the same settings are skipped; videos that cannot be
    read are listed in ``Summary.failed`` (and in ``out_dir/failed.txt``) and the rest go on.

    Under ``torchrun`` the videos still to do are sharded over the ranks by frame count
    (:func:`videossl.dist.shard_by_length`), each rank on its own device; each rank appends one
    JSON line per video to ``out_dir/manifest.rank<R>.jsonl`` and rank 0 merges every such file into
    ``out_dir/manifest.jsonl`` at the end. The returned summary covers all ranks.
    """
    import time

    from tqdm import tqdm

    if num_frames and fps:
        raise ValueError("give num_frames or fps, not both")
    check_settings(num_frames, fps, clip_len, batch_size, num_threads)
    out = check_output_dir(out_dir)  # a read-only or full folder fails here, before the model is built
    rank, world, dev = vdist.setup_distributed(resolve_device(device))
    if isinstance(model, str):
        from videossl.models import create_model

        model = create_model(model, device=str(dev))
    if hasattr(model, "eval"):
        model.eval()
    settings = Settings(model_name(model), dense, num_frames, fps, clip_len,
                        tuple(int(v) for v in size) if size else None, dtype)
    summary = Summary()
    todo, frames_of = _plan(find_videos(inputs), out, settings, rank, world, summary)
    if world > 1:  # every rank computed the same plan; keep this rank's share, balanced by length
        todo = [todo[i] for i in vdist.shard_by_length([frames_of[n] for n, _ in todo], world)[rank]]
    paths = dict(todo)
    # one process keeps its records in memory (the folder holds only features until the merge);
    # ranks append to their own file as they go, so a rank that dies keeps what it finished
    manifest = out / f"manifest.rank{rank}.jsonl" if world > 1 else None
    records = [{"video": n, "status": "skipped", "rank": rank} for n in (summary.skipped if rank == 0 else [])]
    t0 = last = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", desc="extract", disable=not progress or rank != 0, dynamic_ncols=True)
    results = Extractor(model, settings, batch_size, dev, num_threads, max_open).run(todo)
    try:
        for key, result, info in results:
            now = time.perf_counter()  # per-video seconds: wall time since the previous video finished
            rec = {"video": key, "source": display_path(paths[key]), "frames": info.get("frames"), "rank": rank,
                   "seconds": round(now - last, 4)}
            last = now
            if isinstance(result, BaseException):
                if not isinstance(result, InputError):
                    raise result
                summary.failed.append((paths[key], str(result)))
                rec.update(status="failed", error=str(result))
                if progress:
                    bar.write(f"skipped {key}: {result}")
            else:
                meta = dict(settings.metadata(), source=display_path(paths[key]),
                            **{k: str(info[k]) for k in ("frames", "fps", "height", "width", "backend")})
                try:
                    save_safetensors_atomic(result, out / f"{key}.safetensors", metadata=meta)
                except OSError as exc:
                    # disk full / read-only: every further video would fail the same way, so stop here
                    # cleanly (the manifest and failed.txt below still list what was done)
                    if not is_disk_full(exc):
                        raise
                    summary.stopped = str(write_failure(exc, out / f"{key}.safetensors"))
                    rec.update(status="not_written", error=summary.stopped)
                    records.append(rec)
                    if manifest is not None:
                        _append_quietly(manifest, rec)
                    break
                summary.done.append(key)
                summary.frames += info["sampled_frames"]
                rec.update(status="done", shape={k: list(v.shape) for k, v in result.items()})
            records.append(rec)
            if manifest is not None:
                _append_quietly(manifest, rec)
            bar.update(1)
            bar.set_postfix(frames=summary.frames, failed=len(summary.failed))
    finally:
        results.close()  # stops the decode threads when the loop ended early
        bar.close()
        summary.seconds = time.perf_counter() - t0
    if summary.stopped:
        seen = {r["video"] for r in records}
        summary.not_tried = [n for n, _ in todo if n not in seen]
        for n in summary.not_tried:
            records.append({"video": n, "source": display_path(paths[n]), "status": "not_tried", "rank": rank})
            if manifest is not None:
                _append_quietly(manifest, records[-1])
    if world > 1:  # the whole run's summary on every rank (also the barrier before the merge)
        parts = vdist.all_gather_object(summary)
        summary = Summary(sum((p.done for p in parts), []), summary.skipped, sum((p.failed for p in parts), []),
                          sum(p.frames for p in parts), max(p.seconds for p in parts),
                          next((p.stopped for p in parts if p.stopped), None), sum((p.not_tried for p in parts), []))
    if rank == 0:
        _write_lists(out, records, summary, world)
    if summary.stopped:
        raise ExtractionStopped(f"{summary.stopped}; stopped after {len(summary.done)} video(s) written (kept, "
                                f"listed in {display_path(out / 'manifest.jsonl')}), {len(summary.not_tried)} not "
                                "tried; free space and re-run the same command to finish", summary)
    return summary


def _append_quietly(path: Path, rec: dict) -> None:
    """A rank's manifest line; on a full disk the line is lost (the rank's summary still has it)."""
    try:
        vdist.append_jsonl(path, rec)
    except OSError as exc:
        if not is_disk_full(exc):
            raise


def _write_lists(out: Path, records: list[dict], summary: Summary, world: int) -> None:
    """``manifest.jsonl`` (every video, merged with earlier runs) and ``failed.txt`` (this run's failures).

    On a full disk they may not fit either: then their content goes to stderr, so nothing done is unlisted.
    """
    import sys

    from videossl.utils import atomic_write_text

    shards = sorted(out.glob("manifest.rank*.jsonl"))  # this run's and those of runs whose ranks died
    failed_list = out / "failed.txt"  # this run's failures only: a stale list would mislead
    try:
        vdist.merge_manifests([out / "manifest.jsonl", *shards], out / "manifest.jsonl",
                              extra=[r for r in records if r["status"] == "skipped"] if world > 1 else records)
        for p in shards:
            p.unlink()
        if summary.failed:
            atomic_write_text(failed_list, "".join(f"{msg}\n" for _, msg in summary.failed))
        elif failed_list.exists():
            failed_list.unlink()
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        print(f"error: {write_failure(exc, out / 'manifest.jsonl')}; the lists go here instead:", file=sys.stderr)
        for r in records:
            print(f"  {r.get('status')}: {r['video']}" + (f" ({r['error']})" if r.get("error") else ""),
                  file=sys.stderr)
        if summary.stopped is None:
            summary.stopped = str(write_failure(exc, out / "manifest.jsonl"))


# -- command line -----------------------------------------------------------------------------
def register(subparsers) -> None:
    from videossl.clitools import (add_model_arg, add_out_arg, add_pretrained_arg, add_progress_arg,
                                   add_renamed_flag, positive_float, positive_int)

    p = subparsers.add_parser("extract", help="extract clip embeddings or dense per-frame features from videos",
                              description="One safetensors file per video in --out; a re-run skips finished videos. "
                                          "Exit 0: all done; 1: some videos could not be read (failed.txt); "
                                          "2: bad arguments; 4: --out cannot be written (disk full/read-only).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders of videos, or frame folders")
    add_model_arg(p)
    add_pretrained_arg(p)
    add_out_arg(p, required=True, inside="<video>.safetensors, manifest.jsonl and failed.txt")
    p.add_argument("--batch-size", type=positive_int, default=32, help="frames (--dense) or clips per forward pass")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--num-frames", type=positive_int, default=None,
                   help="T >= 1 frames spread over each video (clip level: one clip; --dense: T frames)")
    g.add_argument("--fps", type=positive_float, default=None, help="resample each video to F > 0 frames/s")
    p.add_argument("--clip-len", type=positive_int, default=DEFAULT_CLIP_LEN,
                   help="frames per clip with --fps (default 8)")
    p.add_argument("--dense", action="store_true", help="dense per-frame feature maps (encode_frames)")
    p.add_argument("--size", type=positive_int, nargs="+", default=None, metavar="PX",
                   help="input size: H W, or one number for the shorter side (default: the model's input size)")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="stored precision (float16 halves dense feature files)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--decode-threads", dest="decode_threads", type=positive_int, default=2,
                   help="threads decoding and resizing frames in this process (default 2)")
    add_renamed_flag(p, "--workers", "--decode-threads", "decode_threads", type=positive_int)
    add_progress_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    if args.size and len(args.size) > 2:
        raise InputError(None, f"--size takes one or two numbers, got {len(args.size)}")
    check_output_dir(args.out)  # before the model is built: a read-only or full --out fails at once
    rank, world, dev = vdist.setup_distributed(resolve_device(args.device))  # torchrun: cuda:LOCAL_RANK / gloo
    from videossl.models import create_model

    model = create_model(args.model, pretrained=args.pretrained, device=str(dev))
    stopped = None
    try:
        s = extract_features(args.inputs, model, args.out, batch_size=args.batch_size, num_frames=args.num_frames,
                             fps=args.fps, dense=args.dense, clip_len=args.clip_len, size=args.size,
                             dtype=args.dtype, device=dev, num_threads=args.decode_threads,
                             progress=not args.no_progress)
    except ExtractionStopped as exc:
        stopped, s = exc, exc.summary
    finally:
        vdist.cleanup()
    if rank != 0:
        if stopped is not None:
            raise stopped
        return 1 if s.failed else 0
    rate = s.frames / s.seconds if s.seconds > 0 else 0.0
    print(f"extracted {len(s.done)} videos ({s.frames} frames, {rate:.1f} frames/s, {world} process(es)), "
          f"skipped {len(s.skipped)} already done, {len(s.failed)} failed"
          + (f", {len(s.not_tried)} not tried (stopped)" if stopped is not None else "") + f" -> {args.out}")
    for path, msg in s.failed:
        print(f"  failed: {msg}", file=sys.stderr)
    if stopped is not None:
        raise stopped
    return 1 if s.failed else 0
