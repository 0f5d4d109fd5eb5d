"""Model registry: every name builds, shapes/strides, tclip zero-init = frame-averaged CLIP,
checkpoint round trips, and fast one-line failures for missing weights and unknown names."""

from __future__ import annotations

import time

import pytest
import torch

from videossl.errors import InputError, MissingWeightsError
from videossl.models import VideoModel, create_model, list_models
from videossl.models.clip_vit import ClipViT
from videossl.models.shipped import SHIPPED_WEIGHTS, WEIGHTS_FILE

TINY = ["tiny-resnet", "tiny-vit", "tiny-tclip"]
EXPECTED = {"resnet18", "resnet50", "clip-vit-b16", "tclip-vit-b16", "videossl-tiny", *TINY}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# small forwards run ~10x faster on one thread than on two on a loaded 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def b16():
    """Random ViT-B/16 CLIP and temporal CLIP, the latter initialised from the former's weights."""
    clip = create_model("clip-vit-b16", pretrained=None)
    tclip = create_model("tclip-vit-b16", pretrained=None)
    tclip.load_state_dict(tclip.adapt_state_dict(clip.state_dict()))
    return clip, tclip


def test_registry_names():
    assert EXPECTED <= set(list_models())
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize("name", TINY + ["resnet18", "resnet50"])
def test_shapes_and_strides(name):
    m = create_model(name)
    assert isinstance(m, VideoModel) and not m.training
    assert m.stride == 8 and len(m.mean) == len(m.std) == 3 and len(m.input_size) == 2
    with torch.no_grad():
        f = m.encode_frames(torch.randn(2, 3, 64, 64))
        v = m.encode_video(torch.randn(2, 3, 3, 48, 80))
    assert f.shape == (2, m.feat_dim, 8, 8)
    assert v.shape == (2, m.embed_dim) and torch.isfinite(v).all()
    if m.has_text:
        e = m.encode_text(["a person jumps", "a dog runs", ""])
        assert e.shape == (3, m.embed_dim)


def test_vit_dense_map_any_size():
    m = create_model("tiny-vit")
    with torch.no_grad():
        assert m.encode_frames(torch.randn(1, 3, 48, 80)).shape == (1, 64, 6, 10)


def test_clip_vit_matches_open_clip():
    m = create_model("tiny-vit")
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(m.encode_video(x[:, None]), m.clip.encode_image(x))
        # frames averaged
        clip = torch.stack([x, x.flip(-1)], 1)
        torch.testing.assert_close(m.encode_video(clip), (m.clip.encode_image(x) + m.clip.encode_image(x.flip(-1))) / 2)
        tok = __import__("open_clip").tokenize(["a cat"], context_length=16)
        torch.testing.assert_close(m.encode_text(["a cat"]), m.clip.encode_text(tok))


def test_b16_models(b16):
    clip, tclip = b16
    for m in (clip, tclip):
        assert (m.stride, m.feat_dim, m.embed_dim, tuple(m.input_size)) == (16, 768, 512, (224, 224))
    assert tclip.num_frames == 8
    x = torch.randn(1, 2, 3, 32, 48)  # tiny input: positional embeddings interpolated to 2x3
    with torch.no_grad():
        assert clip.encode_frames(x[:, 0]).shape == (1, 768, 2, 3)
        torch.testing.assert_close(tclip.encode_video(x), clip.encode_video(x), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(tclip.encode_frames(x[:, 0]), clip.encode_frames(x[:, 0]), rtol=1e-4, atol=1e-5)
        assert clip.encode_text(["a video of a person"]).shape == (1, 512)


def test_tclip_zero_init_equals_frame_averaged_clip():
    t = create_model("tiny-tclip")
    clip = ClipViT(t.clip)  # the same image CLIP without temporal layers
    x = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(t.encode_video(x), clip.encode_video(x))
        frame_avg = torch.stack([t.clip.encode_image(x[:, i]) for i in range(4)], 1).mean(1)
        torch.testing.assert_close(t.encode_video(x), frame_avg)
        torch.testing.assert_close(t.encode_frames(x[:, 0]), clip.encode_frames(x[:, 0]))
        # other frame counts than the configured 4 work (time embedding resampled)
        torch.testing.assert_close(t.encode_video(x[:, :3]), clip.encode_video(x[:, :3]))


def test_tclip_mixes_time_once_trained():
    t = create_model("tiny-tclip")
    for layer in t.temporal:
        torch.nn.init.normal_(layer.attn.out_proj.weight, std=0.2)
    x = torch.randn(1, 4, 3, 64, 64)
    y = x.clone()
    y[:, 3] = torch.randn(3, 64, 64)
    with torch.no_grad():
        a, b = t.forward_clip(x)[0], t.forward_clip(y)[0]
    assert not torch.allclose(a[:, 0], b[:, 0])  # frame 0's embedding sees frame 3
    assert not torch.allclose(t.encode_video(x), ClipViT(t.clip).encode_video(x))


def test_tclip_options_and_grad_checkpointing():
    m = create_model("tiny-tclip", num_frames=8, image_size=32, grad_checkpointing=True)
    assert m.num_frames == 8 and m.input_size == (32, 32) and m.temporal[0].time_embed.shape[0] == 8
    ref = create_model("tiny-tclip", num_frames=8, image_size=32)
    ref.load_state_dict(m.state_dict())
    x = torch.randn(2, 8, 3, 32, 32)
    grads = []
    for model in (m, ref):
        model.train()
        model.encode_video(x).pow(2).sum().backward()
        grads.append(model.temporal[0].attn.out_proj.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0
    with pytest.raises(InputError, match="no option"):
        create_model("tiny-tclip", frames=3)


def _outputs(m):
    torch.manual_seed(1)
    with torch.no_grad():
        return m.encode_video(torch.randn(1, 2, 3, 64, 64))


@pytest.mark.parametrize("fmt", ["safetensors", "pt-nested", "pt-plain"])
def test_checkpoint_round_trip(tmp_path, fmt):
    from safetensors.torch import save_file

    src = create_model("tiny-tclip")
    for layer in src.temporal:
        torch.nn.init.normal_(layer.attn.out_proj.weight, std=0.1)
    state = {k: v.contiguous() for k, v in src.state_dict().items()}
    if fmt == "safetensors":
        path = tmp_path / "w.safetensors"
        save_file(state, str(path))
    else:
        path = tmp_path / "w.pt"
        torch.save({"state_dict": state, "step": 3} if fmt == "pt-nested" else state, path)
    loaded = create_model("tiny-tclip", pretrained=str(path))
    torch.testing.assert_close(_outputs(loaded), _outputs(src))
    assert not torch.allclose(_outputs(create_model("tiny-tclip")), _outputs(src))


def test_open_clip_state_dict_initialises_tclip(tmp_path):
    vit = create_model("tiny-vit")
    path = tmp_path / "open_clip.pt"
    torch.save(vit.clip.state_dict(), path)  # open_clip's own key names, no temporal layers
    t = create_model("tiny-tclip", pretrained=str(path))
    torch.testing.assert_close(_outputs(t), _outputs(vit))


def test_mismatched_checkpoint_names_file(tmp_path):
    path = tmp_path / "vit.pt"
    torch.save(create_model("tiny-vit").state_dict(), path)
    with pytest.raises(InputError) as e:
        create_model("tiny-resnet", pretrained=str(path))
    msg = str(e.value)
    assert str(path) in msg and "missing" in msg and "\n" not in msg
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="bad.safetensors"):
        create_model("tiny-resnet", pretrained=str(bad))


def _one_line_fast(fn, exc=MissingWeightsError):
    t0 = time.perf_counter()
    with pytest.raises(exc) as e:
        fn()
    assert time.perf_counter() - t0 < 2.0
    assert "\n" not in str(e.value)
    return str(e.value)


def test_missing_weights_fail_fast(tmp_path, monkeypatch):
    from videossl.models.weights import open_clip_weights_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert "resnet18-" in _one_line_fast(lambda: create_model("resnet18", pretrained="imagenet"))
    assert "missing.pt" in _one_line_fast(lambda: create_model("tiny-vit", pretrained=str(tmp_path / "missing.pt")))
    assert "'nope'" in _one_line_fast(lambda: create_model("clip-vit-b16", pretrained="nope"))
    try:
        open_clip_weights_file("ViT-B-16", "openai")
        pytest.skip("OpenAI ViT-B/16 weights are cached on this machine")
    except MissingWeightsError:
        pass
    msg = _one_line_fast(lambda: create_model("tclip-vit-b16", pretrained="openai"))
    assert "ViT-B-16" in msg and "PATH" in msg


def test_imagenet_weights_from_torch_cache(tmp_path, monkeypatch):
    """A cached torchvision file is used: trunk weights equal, layer4/fc dropped."""
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ref = resnet18()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(ref.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    m = create_model("resnet18", pretrained="imagenet")
    torch.testing.assert_close(m.layer3[1].conv2.weight, ref.layer3[1].conv2.weight)


def test_unknown_name_lists_models():
    msg = _one_line_fast(lambda: create_model("resnet-9000"), InputError)
    assert all(n in msg for n in EXPECTED)


def test_videossl_tiny(tmp_path):
    m = create_model("videossl-tiny", pretrained=None)  # the trainer's random init of the architecture
    assert (m.embed_dim, m.stride, m.has_text) == (384, 8, True)
    assert not any(k.startswith(("_text", "text")) for k in m.state_dict())  # MiniLM stays out of checkpoints
    h, w = m.input_size
    with torch.no_grad():
        v = m.encode_video(torch.randn(1, 2, 3, h, w))
        assert v.shape == (1, 384)
        assert m.encode_frames(torch.randn(1, 3, h, w)).shape == (1, m.feat_dim, h // 8, w // 8)
    e = m.encode_text(["a person riding a bike", "a person riding a bicycle", "a bowl of soup"])
    assert e.shape == (3, 384)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3))
    assert e[0] @ e[1] > e[0] @ e[2]  # a real sentence encoder
    from safetensors.torch import save_file

    path = tmp_path / "videossl-tiny.safetensors"
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(path))
    loaded = create_model("videossl-tiny", pretrained=str(path))
    torch.testing.assert_close(loaded.encode_video(torch.ones(1, 2, 3, h, w)), m.encode_video(torch.ones(1, 2, 3, h, w)))


def test_videossl_tiny_default_weights():
    if WEIGHTS_FILE.is_file():
        assert create_model("videossl-tiny").embed_dim == 384
    else:
        assert "videossl train" in _one_line_fast(lambda: create_model("videossl-tiny"))


def test_videossl_tiny_shipped_tags():
    msg = _one_line_fast(lambda: create_model("videossl-tiny", pretrained="no-such-tag"))
    assert all(tag in msg for tag in SHIPPED_WEIGHTS)
    present = {tag: create_model("videossl-tiny", pretrained=tag) for tag, f in SHIPPED_WEIGHTS.items() if f.is_file()}
    x = torch.rand(1, 2, 3, 112, 112)
    with torch.no_grad():
        emb = {tag: m.encode_video(x) for tag, m in present.items()}
    for m in present.values():  # float16 files are cast on load: the model computes in float32
        assert {p.dtype for p in m.parameters()} == {torch.float32}
    if len(emb) == 2:
        assert not torch.allclose(emb["shipped"], emb["actions"])
