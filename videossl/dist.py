"""torch.distributed helpers shared by training, extraction and evaluation (one copy, many callers).

Everything here works without ``torchrun``: with no ``RANK``/``WORLD_SIZE`` in the environment the
process is rank 0 of 1, no process group is created and the collectives are no-ops.
Under ``torchrun`` (single node: ``--nproc-per-node N``; multi-node: ``--nnodes M --rdzv-backend c10d
--rdzv-endpoint HOST:PORT``) the group is NCCL when the device is CUDA, else gloo, and each rank runs on
``cuda:LOCAL_RANK``.
"""

from __future__ import annotations

import heapq
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
import torch.distributed as dist


def env_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment; ``(0, 1, 0)`` without it."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, 0
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))


def setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)``: join torchrun's process group (idempotent), else a single process.

    A CUDA device becomes ``cuda:LOCAL_RANK`` (and the current device); CPU ranks use gloo.
    """
    device = torch.device(device)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return rank, world, device


def active() -> bool:
    """True when a process group with more than one rank is up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if active():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` in a single process). Picklable objects only."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    """Leave the process group (call once at the end of a command run under torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_by_length(lengths: Sequence[float], world: int) -> list[list[int]]:
    """Split items ``0..n-1`` over ``world`` ranks, balancing the summed length (not the count).

    Greedy longest-first (LPT): items sorted by length (ties by index) each go to the least-loaded
    rank (ties by rank), so the result is deterministic and every rank computes the same split.
    The heaviest rank carries at most 4/3 of the optimum. Each shard is returned in input order.
    """
    if world < 1:
        raise ValueError(f"world size must be >= 1, got {world}")
    shards: list[list[int]] = [[] for _ in range(world)]
    heap = [(0.0, r) for r in range(world)]
    for i in sorted(range(len(lengths)), key=lambda i: (-float(lengths[i]), i)):
        load, r = heapq.heappop(heap)
        shards[r].append(i)
        heapq.heappush(heap, (load + max(0.0, float(lengths[i])), r))
    return [sorted(s) for s in shards]


# -- manifests: one JSON-lines file per rank, merged by rank 0 --------------------------------------


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one record as a line and flush it to disk (a rank killed later keeps its lines)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def merge_manifests(parts: Iterable[str | os.PathLike], out: str | os.PathLike, key: str = "video",
                    extra: Iterable[dict] = ()) -> list[dict]:
    """Merge JSON-lines files (in path order) and then ``extra`` records into ``out`` (atomically),
    one record per ``key``, sorted by it. Pass ``out`` itself among ``parts`` to keep earlier runs.

    When a video appears more than once (re-runs, ranks of earlier runs) the later record wins,
    except that ``skipped`` never replaces an earlier record (which says how the file was made).
    A truncated last line (a rank killed while writing) is ignored. Returns the merged records.
    """
    from videossl.utils import atomic_write_text

    def records():
        for part in sorted(Path(p) for p in parts):
            if part.is_file():
                for line in part.read_text(encoding="utf-8").splitlines():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue
        yield from extra

    best: dict[str, dict] = {}
    for rec in records():
        k = rec.get(key)
        if k is not None and (k not in best or rec.get("status") != "skipped"):
            best[k] = rec
    records = [best[k] for k in sorted(best)]
    atomic_write_text(out, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return records
