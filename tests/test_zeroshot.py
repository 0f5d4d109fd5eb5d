"""Zero-shot classifier, split readers, linear probe, synthetic action set: known answers and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videossl.errors import InputError
from videossl.zeroshot import ZeroShotClassifier, read_class_file

COLOURS = {"red": 0, "green": 1, "blue": 2}


class ColourModel(nn.Module):
    """Known answer: a clip's embedding is the one-hot of its brightest mean channel; a text's is
    the one-hot of the colour word it contains. Records the clips it was given."""

    mean, std, input_size, stride, feat_dim, embed_dim, has_text = (0, 0, 0), (1, 1, 1), (16, 16), 8, 3, 3, True
    name = "colour-test"

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def encode_video(self, x):
        self.seen.append(x.detach().clone())
        return F.one_hot(x.mean(dim=(1, 3, 4)).argmax(1), 3).float()

    def encode_text(self, texts):
        out = torch.full((len(texts), 3), 0.01)
        for i, t in enumerate(texts):
            for word, j in COLOURS.items():
                if word in t:
                    out[i, j] = 1.0
        return out


def solid(colour: str, frames: int = 4, size: int = 32) -> np.ndarray:
    v = np.full((frames, size, size, 3), 20, np.uint8)
    v[..., COLOURS[colour]] = 220
    return v


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOSSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_ranking_on_tensors_and_files_with_one_unreadable(tmp_path, cache):
    from videossl.data.actions import write_mp4

    paths = []
    for c in ("blue", "red", "green"):
        write_mp4(tmp_path / f"{c}.mp4", solid(c))
        paths.append(str(tmp_path / f"{c}.mp4"))
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    paths.insert(1, str(tmp_path / "broken.mp4"))
    clf = ZeroShotClassifier(ColourModel(), ["green", "blue", "red"], templates=["a {} clip"], clip_len=4, batch_size=2)
    preds = clf.predict(paths, top_k=2)
    assert [p.video for p in preds] == paths  # input order kept
    assert [p.labels[0] if p.labels else None for p in preds] == ["blue", None, "red", "green"]
    assert preds[1].error and "broken.mp4" in preds[1].error and clf.failed[0][0] == paths[1]
    assert all(len(p.labels) == 2 and p.probs[0] > 0.9 and p.probs[0] >= p.probs[1] for p in preds if not p.error)
    x = torch.stack([torch.from_numpy(solid(c)).permute(0, 3, 1, 2) for c in ("red", "blue")])  # uint8 [2,T,3,H,W]
    logits = clf.logits(x)
    assert logits.shape == (2, 3) and logits.argmax(1).tolist() == [2, 1]


def test_ensemble_averages_normalised_embeddings_and_is_cached(cache):
    calls = []

    class Enc:
        name = "fake-text"

        def encode_text(self, texts):
            calls.append(len(texts))
            g = torch.Generator().manual_seed(0)
            base = torch.randn(64, 5, generator=g)
            return torch.stack([base[sum(map(ord, t)) % 64] * (1 + len(t)) for t in texts])  # norms differ

    classes = {"jump": ["someone jumps high"], "run": ["a runner on a track", "legs moving fast"]}
    clf = ZeroShotClassifier(ColourModel(), classes, templates=["a video of {}.", "{}"], text_encoder=Enc())
    enc = Enc()
    for row, name in zip(clf.text_embeddings, ["jump", "run"]):
        texts = [f"a video of {name}.", name] + classes[name]
        assert clf.prompts[["jump", "run"].index(name)] == texts
        expected = F.normalize(F.normalize(enc.encode_text(texts), dim=-1).mean(0), dim=-1)
        assert torch.allclose(row, expected, atol=1e-6)
    n = len(calls)
    ZeroShotClassifier(ColourModel(), classes, templates=["a video of {}.", "{}"], text_encoder=Enc())
    assert len(calls) == n  # the second classifier read the cache: the encoder was not called
    assert any(cache.rglob("zeroshot-*.safetensors"))


def test_class_list_errors(tmp_path, cache):
    m = ColourModel()
    for bad in (["red", "red"], ["red", " "], ["brush_hair", "brush hair"], []):
        with pytest.raises(InputError):
            ZeroShotClassifier(m, bad)
    f = tmp_path / "classes.txt"
    f.write_text("# my classes\nred\n\ngreen\nred\n")
    with pytest.raises(InputError, match="line 5"):
        read_class_file(f)
    f.write_text("1 ApplyEyeMakeup\n2 Archery\n")  # UCF101 classInd.txt works as a class list
    assert read_class_file(f) == ["ApplyEyeMakeup", "Archery"]
    with pytest.raises(InputError, match="duplicate class name"):
        ZeroShotClassifier(m, {"classes": [{"name": "a", "descriptions": ["x"]}, {"name": "a", "descriptions": ["y"]}]})


def test_short_video_repeats_frames(tmp_path, cache):
    from videossl.data.actions import write_mp4

    m = ColourModel()
    clf = ZeroShotClassifier(m, ["red", "green", "blue"], clip_len=8)
    x = torch.arange(3, dtype=torch.float32).view(1, 3, 1, 1, 1).expand(1, 3, 3, 4, 4)  # frame k has value k
    clf.logits(x)
    assert m.seen[-1][0, :, 0, 0, 0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    frames = np.stack([np.full((32, 32, 3), 40 + 80 * k, np.uint8) for k in range(3)])
    write_mp4(tmp_path / "short.mp4", frames)
    preds = clf.predict([tmp_path / "short.mp4"])
    assert not preds[0].error and m.seen[-1].shape[1] == 8
    levels = m.seen[-1][0, :, 0].mean(dim=(1, 2))
    assert torch.allclose(levels, levels[[0, 0, 0, 3, 3, 5, 5, 5]], atol=2 / 255)  # frames 0,0,0,1,1,2,2,2
    assert levels[0] + 0.1 < levels[3] < levels[5] - 0.1


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_ucf101_and_hmdb51_split_readers(tmp_path):
    from videossl.actions import hmdb51_splits, ucf101_splits

    ucf = tmp_path / "ucf"
    meta = ucf / "ucfTrainTestlist"
    meta.mkdir(parents=True)
    (meta / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n")
    for k in (1, 2, 3):
        (meta / f"trainlist0{k}.txt").write_text(f"ApplyEyeMakeup/v_ApplyEyeMakeup_g0{k}_c01.avi 1\n")
        (meta / f"testlist0{k}.txt").write_text(  # the official lists spell this class HandStandPushups
            f"HandStandPushups/v_HandStandPushups_g0{k}_c01.avi\nApplyEyeMakeup/v_ApplyEyeMakeup_g09_c0{k}.avi\n")
    for k in (1, 2, 3):
        _touch(ucf / "UCF-101" / "HandstandPushups" / f"v_HandStandPushups_g0{k}_c01.avi")
        _touch(ucf / "UCF-101" / "ApplyEyeMakeup" / f"v_ApplyEyeMakeup_g0{k}_c01.avi")
    _touch(ucf / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g09_c01.avi")
    s = ucf101_splits(ucf)
    assert [x.name for x in s] == ["split1", "split2", "split3"] and s[0].classes == ["ApplyEyeMakeup", "HandstandPushups"]
    assert [y for _, y in s[0].test] == [1, 0] and s[0].train[0][0].endswith("g01_c01.avi") and s[0].train[0][1] == 0
    assert s[1].missing == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi"] and len(s[1].test) == 1
    (meta / "testlist01.txt").write_text("Nope/v_Nope_g01_c01.avi\n")
    with pytest.raises(InputError, match="testlist01.txt:1"):
        ucf101_splits(ucf)

    hmdb = tmp_path / "hmdb"
    (hmdb / "splits").mkdir(parents=True)
    for cls in ("brush_hair", "cartwheel"):
        for k in (1, 2, 3):
            (hmdb / "splits" / f"{cls}_test_split{k}.txt").write_text(
                f"{cls}_a.avi {1 if k == 1 else 2} \n{cls}_b.avi {2 if k == 1 else 1} \n{cls}_c.avi 0 \n")
        for v in "abc":
            _touch(hmdb / "videos" / cls / f"{cls}_{v}.avi")
    h = hmdb51_splits(hmdb)
    assert len(h) == 3 and h[0].classes == ["brush_hair", "cartwheel"]
    assert [(p.rsplit("/", 1)[1], y) for p, y in h[0].test] == [("brush_hair_b.avi", 0), ("cartwheel_b.avi", 1)]
    assert len(h[0].train) == 2 and all("_c.avi" not in p for p, _ in h[0].train + h[0].test)
    (hmdb / "splits" / "cartwheel_test_split1.txt").write_text("cartwheel_a.avi 7\n")
    with pytest.raises(InputError, match="cartwheel_test_split1.txt:1"):
        hmdb51_splits(hmdb)


def test_k600_novel_subsets(tmp_path):
    from videossl.actions import k600_novel_splits

    k400 = tmp_path / "k400.txt"
    k400.write_text("abseiling\nair drumming\n")
    rows = ["label,youtube_id,time_start,time_end,split"]
    labels = ["abseiling", "air drumming"] + [f"novel {i}" for i in range(6)]
    for i, lab in enumerate(labels):
        rows.append(f"{lab},yid{i},{10 * i},{10 * i + 10},test")
        if i != 3:
            _touch(tmp_path / "videos" / f"yid{i}_{10 * i:06d}_{10 * i + 10:06d}.mp4")
    ann = tmp_path / "test.csv"
    ann.write_text("\n".join(rows) + "\n")
    s = k600_novel_splits(ann, k400, tmp_path / "videos", subset=4)
    t = k600_novel_splits(ann, k400, tmp_path / "videos", subset=4)
    assert [x.classes for x in s] == [x.classes for x in t] and len(s) == 3  # fixed seeds
    assert all(len(x.classes) == 4 and not {"abseiling", "air drumming"} & set(x.classes) for x in s)
    assert len({tuple(x.classes) for x in s}) > 1 and "6 novel classes" in s[0].note
    for x in s:
        assert len(x.test) + len(x.missing) == 4 and all(0 <= y < 4 for _, y in x.test)
        assert ("yid3_000030_000040" in x.missing) == ("novel 1" in x.classes)
    with pytest.raises(InputError, match="only 6 classes"):
        k600_novel_splits(ann, k400, tmp_path / "videos", subset=160)


def test_linear_probe_separates_separable_features(tmp_path):
    from videossl.linear_probe import evaluate_probe, fit_linear_probe, load_features
    from videossl.utils import save_safetensors_atomic

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=g) * 4
    for part, n in (("train", 10), ("test", 5)):
        for c in range(3):
            for i in range(n):
                x = centres[c] + torch.randn(16, generator=g)
                save_safetensors_atomic({"embedding": x}, tmp_path / part / f"c{c}_{i}.safetensors",
                                        metadata={"source": f"/data/class{c}/v{i}.mp4"})
    _, xtr, ytr = load_features(tmp_path / "train")
    _, xte, yte = load_features(tmp_path / "test")
    assert sorted(set(ytr)) == ["class0", "class1", "class2"] and xtr.shape == (30, 16)
    probe = fit_linear_probe(xtr, ytr)
    assert evaluate_probe(probe, xte, yte)["top1"] == 1.0
    from videossl.cli import main

    assert main(["linear-probe", "--train", str(tmp_path / "train"), "--test", str(tmp_path / "test"),
                 "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["overall"]["top1"] == 1.0


def test_synthetic_set_end_to_end_cli(tmp_path, cache, capsys):
    from videossl.cli import main
    from videossl.data.actions import ACTIONS, generate_actions

    root = generate_actions(tmp_path / "sa", train_per_class=1, test_per_class=1, size=32, frames=8)
    assert main(["eval", "zeroshot", "--dataset", "synthetic", "--root", str(root), "--model", "tiny-vit",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["per_sequence"]["split1"]["videos"] == len(ACTIONS) and m["classes_with_descriptions"] == len(ACTIONS)
    assert 0 <= m["overall"]["top1_mean"] <= m["overall"]["top5_mean"] <= 1
    names = tmp_path / "names.txt"
    names.write_text("moving left\nrotating\n")
    rc = main(["zeroshot", str(root / "test" / "rotating"), str(tmp_path / "missing.mp4"), "--concepts", str(names),
               "--model", "tiny-vit", "--top-k", "2", "--out", str(tmp_path / "z.jsonl")])
    lines = [json.loads(x) for x in (tmp_path / "z.jsonl").read_text().splitlines()]
    assert rc == 1 and len(lines) == 2 and lines[1]["error"] and set(lines[0]["labels"]) == {"moving left", "rotating"}
    assert "1 classified, 1 failed" in capsys.readouterr().out
