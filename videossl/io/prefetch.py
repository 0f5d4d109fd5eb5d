"""Decode ahead on worker threads so the model never waits on the decoder.

Two stages run off the main thread:

1. **decode** — one thread per open video reads its index batches *in order*
   (sequential reads are what H.264 decoders are fast at; two threads seeking
   in one file would each re-decode from the key frame). Several videos are
   decoded at once (``max_open``), which is how short clips keep the model fed.
2. **transform** — resize / crop / tensor conversion on a shared pool of
   ``num_threads`` threads (OpenCV and torch release the GIL).

Each video has a bounded queue (``depth`` batches), so memory is bounded by
``max_open × depth`` batches whatever the videos' lengths. Results come back
in submission order. Leaving the loop early (``break``, an exception) stops the
workers and closes the readers they opened.

:func:`prefetch` is the one-reader form of the interface;
:func:`prefetch_videos` is the many-video form used by feature extraction,
which reports per-video events so that one corrupt file is skipped without
stopping the others.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from videossl.io.reader import VideoReader, open_video

IndexBatches = Sequence[Sequence[int]]


@dataclass
class VideoJob:
    """One video to decode: ``source`` is a path or an open reader; ``plan`` is the index batches
    or a function of the opened reader returning them (for samplers that need its length/fps)."""

    key: Any
    source: str | os.PathLike | VideoReader
    plan: IndexBatches | Callable[[VideoReader], IndexBatches]


@dataclass
class Event:
    """``kind`` is ``"open"`` (``info`` = reader facts + ``batches``), ``"batch"`` (``indices``, ``data``),
    ``"done"``, or ``"error"`` (``error`` = the exception; no more events for that key)."""

    kind: str
    key: Any
    indices: list[int] | None = None
    data: Any = None
    info: dict = field(default_factory=dict)
    error: BaseException | None = None


def reader_info(reader: VideoReader) -> dict:
    return {"path": reader.path, "frames": len(reader), "fps": reader.fps, "height": reader.height,
            "width": reader.width, "backend": reader.backend}


def _done_future(value: Any) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


class _Pipeline:
    def __init__(self, transform, num_threads: int, max_open: int, depth: int):
        self.transform = transform
        self.max_open = max(1, int(max_open))
        self.depth = max(1, int(depth))
        self.stop = threading.Event()
        self.decoders = ThreadPoolExecutor(self.max_open, thread_name_prefix="videossl-decode")
        self.workers = (ThreadPoolExecutor(max(1, int(num_threads)), thread_name_prefix="videossl-transform")
                        if transform is not None else None)

    def _put(self, q: queue.Queue, cancel: threading.Event, item) -> bool:
        while not (self.stop.is_set() or cancel.is_set()):
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self, job: VideoJob, q: queue.Queue, cancel: threading.Event) -> None:
        owned = not isinstance(job.source, VideoReader)
        reader = None
        try:
            reader = open_video(job.source) if owned else job.source
            batches = job.plan(reader) if callable(job.plan) else job.plan
            batches = [list(map(int, b)) for b in batches]
            info = dict(reader_info(reader), batches=batches)
            if not self._put(q, cancel, ("open", info, None)):
                return
            for idx in batches:
                if self.stop.is_set() or cancel.is_set():
                    return
                frames = reader.get_batch(idx)
                fut = self.workers.submit(self.transform, frames) if self.workers else _done_future(frames)
                if not self._put(q, cancel, ("batch", idx, fut)):
                    return
            self._put(q, cancel, ("done", None, None))
        except BaseException as exc:  # delivered to the consumer, raised or reported there
            self._put(q, cancel, ("error", None, exc))
        finally:
            if owned and reader is not None:
                reader.close()

    def run(self, jobs: Iterable[VideoJob]) -> Iterator[Event]:
        jobs = iter(jobs)
        inflight: deque = deque()

        def fill():
            while len(inflight) < self.max_open:
                job = next(jobs, None)
                if job is None:
                    return
                q: queue.Queue = queue.Queue(self.depth)
                cancel = threading.Event()
                self.decoders.submit(self._decode, job, q, cancel)
                inflight.append((job, q, cancel))

        try:
            fill()
            while inflight:
                job, q, cancel = inflight[0]
                kind, a, b = q.get()
                if kind == "open":
                    yield Event("open", job.key, info=a)
                    continue
                if kind == "batch":
                    try:
                        data = b.result()
                    except BaseException as exc:
                        kind, b = "error", exc
                    else:
                        yield Event("batch", job.key, indices=a, data=data)
                        continue
                inflight.popleft()
                cancel.set()
                fill()  # start the next video before handing this one's end to the consumer
                if kind == "done":
                    yield Event("done", job.key)
                else:
                    yield Event("error", job.key, error=b)
        finally:
            self.stop.set()
            self.decoders.shutdown(wait=True, cancel_futures=True)
            if self.workers is not None:
                self.workers.shutdown(wait=True, cancel_futures=True)


def prefetch_videos(jobs: Iterable[VideoJob], transform: Callable | None = None, num_threads: int = 2,
                    max_open: int = 2, depth: int = 4) -> Iterator[Event]:
    """Decode many videos ahead, ``max_open`` at a time; yields :class:`Event` s in job order."""
    return _Pipeline(transform, num_threads, max_open, depth).run(jobs)


def prefetch(reader: VideoReader, index_batches: IndexBatches, transform: Callable | None = None,
             num_threads: int = 2, depth: int = 4) -> Iterator[tuple[list[int], Any]]:
    """Yield ``(indices, batch)`` for each index batch of ``reader``, decoded (and transformed) ahead.

    ``batch`` is ``reader.get_batch(indices)`` (uint8 ``[N,H,W,3]``) or ``transform`` of it.
    The reader is used from one decode thread only; don't use it elsewhere until the loop ends.
    Decoding errors (an :class:`~videossl.errors.InputError`) are raised here, at the batch that failed.
    """
    for ev in _Pipeline(transform, num_threads, 1, depth).run([VideoJob(reader.path, reader, index_batches)]):
        if ev.kind == "batch":
            yield ev.indices, ev.data
        elif ev.kind == "error":
            raise ev.error
