"""mobilenetv2-lit (LiT image model + zero-init temporal layers) and the object-action set of the LSS miniature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videossl.models import create_model


@pytest.fixture(scope="module")
def lit():
    torch.manual_seed(0)
    return create_model("mobilenetv2-lit", pretrained=None)


def test_builds_with_text_tower_and_stride8_maps(lit):
    assert lit.has_text and lit.stride == 8 and lit.embed_dim == 384 and lit.feat_dim == 96
    x = torch.randn(2, 3, 64, 80)
    assert lit.encode_frames(x).shape == (2, 96, 8, 10)
    assert lit.encode_video(torch.randn(2, 3, 3, 64, 64)).shape == (2, 384)


def test_dense_maps_are_the_imagenet_trunk(lit):
    ref = create_model("mobilenetv2", pretrained="imagenet")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(lit.encode_frames(x), ref.encode_frames(x))


def test_zero_init_temporal_layers_equal_the_image_model(lit):
    x = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        image = torch.stack([lit.encode_image(x[:, t]) for t in range(4)], 1).mean(1)  # frame-averaged image model
        maps = lit.encode_frames(x.flatten(0, 1)).view(2, 4, 96, 8, 8)
        assert torch.equal(lit.temporal(maps), torch.zeros(2, 4, 384))  # the branch adds exactly 0
        torch.testing.assert_close(lit.encode_video(x), image, rtol=0, atol=1e-6)  # (batched vs per-frame convs)
        lit.temporal.up.weight.add_(0.01)  # the branch is live: once it moves, the video model differs
        try:
            assert not torch.allclose(lit.encode_video(x), image, atol=1e-4)
        finally:
            lit.temporal.up.weight.zero_()


def test_trunk_frozen_in_training_mode():
    torch.manual_seed(0)
    m = create_model("mobilenetv2-lit", pretrained=None).train()
    before = {k: v.clone() for k, v in m.trunk.state_dict().items()}
    m.encode_video(torch.randn(2, 2, 3, 64, 64)).pow(2).mean().backward()
    assert not m.trunk.training and m.head.training
    assert all(p.grad is None for p in m.trunk.parameters())
    assert all(torch.equal(v, m.trunk.state_dict()[k]) for k, v in before.items())  # BatchNorm stats unchanged
    assert m.temporal.up.weight.grad is not None and m.temporal.up.weight.grad.abs().sum() > 0


def test_trainable_stages_train_only_the_last_stage():
    from videossl.models.lit import TRUNK_STAGES

    torch.manual_seed(0)
    m = create_model("mobilenetv2-lit", pretrained=None, trainable_stages=1).train()
    stats = {k: v.clone() for k, v in m.trunk.state_dict().items() if "running" in k}
    m.encode_video(torch.randn(2, 2, 3, 64, 64)).pow(2).mean().backward()
    first = TRUNK_STAGES[-1][0]  # block 7: the dilated stride-16 stage
    for i, block in enumerate(m.trunk.features):
        grads = [p.grad for p in block.parameters()]
        if i < first:
            assert all(g is None for g in grads), i  # run under no_grad: the backward pass stops at block 7
        else:
            assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), i
    assert not m.trunk.training  # BatchNorm statistics stay ImageNet's
    assert all(torch.equal(v, m.trunk.state_dict()[k]) for k, v in stats.items())
    with torch.no_grad():  # same maps as the frozen model until the stage moves
        x = torch.randn(1, 3, 64, 64)
        assert torch.equal(m.encode_frames(x), create_model("mobilenetv2-lit", pretrained=None).encode_frames(x))
    from videossl.errors import InputError

    for bad in (5, -1, True, "1", 1.0):  # one line from the CLI (InputError), not a traceback
        with pytest.raises(InputError, match="trainable_stages must be an integer from 0 to 4"):
            create_model("mobilenetv2-lit", pretrained=None, trainable_stages=bad)


def test_trained_stage_is_exported_and_reloads_strictly(tmp_path):
    """The trainer's export (everything but the frozen parameters) holds the trained stage; loading it gives
    that stage back and ImageNet's weights for the frozen blocks."""
    from safetensors.torch import save_file

    from videossl.train.checkpoint import trainable_state
    from videossl.train.loop import ViewConfig, trained_parameter_names

    torch.manual_seed(0)
    m = create_model("mobilenetv2-lit", pretrained=None, trainable_stages=1)
    trained = trained_parameter_names(m, ViewConfig.for_model(m, frames=2, n_local=0, size=64), torch.device("cpu"))
    assert {n.split(".")[2] for n in trained if n.startswith("trunk.")} == {str(i) for i in range(7, 14)}
    with torch.no_grad():
        m.trunk.features[12].conv[0][0].weight.add_(0.5)  # as if trained
    frozen = {n for n, _ in m.named_parameters()} - trained
    save_file(trainable_state(m, frozen), str(tmp_path / "model.safetensors"))
    back = create_model("mobilenetv2-lit", pretrained=str(tmp_path / "model.safetensors"))
    assert torch.equal(back.trunk.features[12].conv[0][0].weight, m.trunk.features[12].conv[0][0].weight)
    assert torch.equal(back.trunk.features[3].conv[0][0].weight, m.trunk.features[3].conv[0][0].weight)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(back.encode_frames(x), m.encode_frames(x))


def test_head_only_file_loads_trunk_from_imagenet(lit, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in lit.state_dict().items() if not k.startswith("trunk.")}
    save_file(state, str(tmp_path / "head.safetensors"))
    m = create_model("mobilenetv2-lit", pretrained=str(tmp_path / "head.safetensors"))
    assert torch.equal(m.head.mlp[0].weight, lit.head.mlp[0].weight)
    assert torch.equal(m.trunk.features[0][0].weight, lit.trunk.features[0][0].weight)


@pytest.mark.parametrize("tag", ["image", "video"])
def test_shipped_weights_load(tag):
    m = create_model(f"mobilenetv2-lit.{tag}")
    if tag == "image":  # step 0 of the concept run: the temporal branch is still exactly zero
        assert m.temporal.up.weight.abs().sum() == 0
    else:
        assert m.temporal.up.weight.abs().sum() > 0


def test_concept_file_loads_and_names_the_set():
    from videossl.concepts import load_concepts, readable_name
    from videossl.concepts.shipped import resolve_concepts_path
    from videossl.data.object_actions import ACTIONS

    space = load_concepts(resolve_concepts_path("object_actions"))
    assert [readable_name(c) for c in space.class_names] == list(ACTIONS)
    assert all(c.attributes and len(c.descriptions) >= 3 for c in space.classes)
    inc = space.incidence()
    assert inc.shape == (8, len(space.attribute_vocab)) and (inc.sum(1) >= 4).all()


def test_renderer_deterministic_and_stills_captioned():
    from videossl.data.object_actions import ACTIONS, render_object_action, render_still, trajectory

    for a in ACTIONS:
        v1 = render_object_action(a, np.random.default_rng(3), 48, 4)
        v2 = render_object_action(a, np.random.default_rng(3), 48, 4)
        assert v1.shape == (4, 48, 48, 3) and v1.dtype == np.uint8 and np.array_equal(v1, v2)
    # the pairs differ by motion only: the car drives >= 0.4 of the frame or stays put; the balloon rises or grows
    (drive, _, _), (park, _, _) = (trajectory(a, np.random.default_rng(0), 100, 8) for a in ("car driving", "car parked"))
    assert abs(drive[-1, 0] - drive[0, 0]) >= 40 and np.array_equal(park[0], park[-1])
    (rise, r_rise, _), (grow, r_grow, _) = (trajectory(a, np.random.default_rng(0), 100, 8)
                                           for a in ("balloon rising", "balloon inflating"))
    assert rise[0, 1] - rise[-1, 1] > 50 and r_rise[0] == r_rise[-1]
    assert grow[0, 1] == grow[-1, 1] and r_grow[-1] > 2 * r_grow[0]
    frame, caption = render_still(np.random.default_rng(0), 48)
    assert frame.shape == (48, 48, 3) and caption.startswith("a photo of a ")
    assert not any(w in caption for w in ("rolling", "bouncing", "driving", "parked", "falling", "spinning"))


def test_unlabelled_set_has_no_labels(tmp_path):
    from videossl.data.object_actions import ACTIONS, generate_unlabelled

    root = generate_unlabelled(tmp_path / "u", per_class=1, size=32, frames=2, seed=0)
    names = sorted(p.name for p in root.iterdir())
    assert names == [f"clip_{k:04d}.mp4" for k in range(len(ACTIONS))]


# --- the slow-shutter set and web-style captions (the ablation "web-style captions" of lss-miniature.md) ---

def _sha(arrays) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        h.update(a if isinstance(a, bytes) else a.tobytes())
    return h.hexdigest()


def test_sharp_set_unchanged_bit_for_bit():
    """Digests of the renderer before motion blur existed (same seeds): the shipped runs' data stay reproducible."""
    from videossl.data.object_actions import ACTIONS, render_object_action, render_still

    rng = np.random.default_rng(0)
    clips = [render_object_action(a, rng, 48, 6) for a in ACTIONS for _ in range(2)]
    assert _sha(clips) == "1d6379511af143a431d22ae6a6ac7ab3463b5c821202dbb267912f0bc31ae144"
    rng = np.random.default_rng(0)
    clips_off = [render_object_action(a, rng, 48, 6, motion_blur=False) for a in ACTIONS for _ in range(2)]
    assert _sha(clips_off) == _sha(clips)
    rng = np.random.default_rng(0)
    stills = [x for _ in range(5) for f, c in [render_still(rng, 48)] for x in (f, c.encode())]
    assert _sha(stills) == "c7344a6dd1873d816f76292178ba99c1116747300522bebd12f28b5cac43930e"


def test_blur_only_where_objects_move():
    from videossl.data.object_actions import ACTIONS, SHUTTER, _exposure_times, _render_clip, trajectory

    size, frames = 64, 6
    for a in ACTIONS:
        sharp = _render_clip(a, np.random.default_rng(7), size, frames, 0.0)
        blur = _render_clip(a, np.random.default_rng(7), size, frames, SHUTTER)
        if a == "car parked":  # a still object: the slow shutter changes nothing
            assert np.array_equal(sharp, blur)
            continue
        diff = np.abs(sharp.astype(int) - blur.astype(int)).max(-1)
        assert (diff > 0).mean() > 0.002, a  # the moving object did smear
        # ... and only around the poses it took during the exposure (the background is the same noise)
        times = _exposure_times(frames, SHUTTER).ravel()
        centre, radius, _ = trajectory(a, _skip_colour(np.random.default_rng(7)), size, frames, times)
        centre = centre.reshape(frames, -1, 2)
        yy, xx = np.mgrid[:size, :size]
        for i in range(frames):
            d = np.hypot(xx[..., None] - centre[i, :, 0], yy[..., None] - centre[i, :, 1]).min(-1)
            assert d[diff[i] > 0].max() <= 1.3 * radius.max() + 2, (a, i)


def _skip_colour(rng):
    """``rng`` advanced past a clip's colour and tint draws: where :func:`trajectory` starts drawing."""
    from videossl.data.object_actions import _colour

    _colour(rng)
    rng.uniform(60, 160, 3)
    return rng


def test_motion_blur_flag_draws_the_shutter_per_clip():
    from videossl.data.object_actions import BLUR_P, SHUTTER, _render_clip, render_object_action

    blurred = 0
    for seed in range(12):
        coin = np.random.default_rng(seed).random()
        rng = np.random.default_rng(seed)
        rng.random()
        want = _render_clip("car driving", rng, 32, 3, SHUTTER if coin < BLUR_P else 0.0)
        assert np.array_equal(render_object_action("car driving", np.random.default_rng(seed), 32, 3, True), want)
        blurred += coin < BLUR_P
    assert 0 < blurred < 12


def test_web_captions_name_the_true_action_at_rate_q():
    from videossl.data.object_actions import ACTIONS, render_web_still

    words = {a.split()[1]: a for a in ACTIONS}
    for q in (0.0, 0.75, 1.0):
        named = 0
        for k in range(300):
            true = ACTIONS[np.random.default_rng(k).integers(len(ACTIONS))]  # a still's first draw: its clip's action
            frame, caption = render_web_still(np.random.default_rng(k), 32, q)
            said = [w for w in caption.split() if w in words]
            assert frame.shape == (32, 32, 3) and caption.startswith("a photo of a ")
            assert said in ([], [true.split()[1]]), (caption, true)  # only the true class's word, if any
            assert true.split()[0] in caption.split()
            named += bool(said)
        assert abs(named / 300 - q) < 0.07, (q, named)


def test_web_still_blur_follows_motion():
    """A parked car's still is the same with or without the slow shutter, a driving car's is not: the caption's
    word is carried by what the frame shows, not by anything a test video would lack."""
    from videossl.data.object_actions import ACTIONS, render_web_still

    seen = set()
    for k in range(60):
        action = ACTIONS[np.random.default_rng(k).integers(len(ACTIONS))]
        if action not in ("car parked", "car driving") or action in seen:
            continue
        (f0, c0), (f1, c1) = (render_web_still(np.random.default_rng(k), 48, 1.0, blur_p=p) for p in (0.0, 1.0))
        assert c0 == c1 and action in c0
        assert np.array_equal(f0, f1) == (action == "car parked")
        seen.add(action)
    assert seen == {"car parked", "car driving"}


def test_new_cli_flags_parse():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
    import lit_align
    import lss_miniature

    a = lit_align.parse_args(["--out", "x.safetensors"])
    assert a.captions == "object" and a.q == 0.75  # the default is the shipped image model's run
    a = lit_align.parse_args(["--out", "x.safetensors", "--captions", "web", "--q", "0.5"])
    assert a.captions == "web" and a.q == 0.5
    for bad in (["--captions", "alt"], ["--q", "1.5"]):
        with pytest.raises(SystemExit):
            lit_align.parse_args(["--out", "x"] + bad)
    ap = lss_miniature.build_parser()
    assert ap.parse_args(["init=image"]).clips == "sharp"
    assert ap.parse_args(["init=image", "--clips", "blur"]).clips == "blur"
    with pytest.raises(SystemExit):
        ap.parse_args(["init=image", "--clips", "fuzzy"])


def test_lit_align_is_deterministic(tmp_path):
    """Two runs of one lit_align command write the same head (the head's initialisation is seeded too)."""
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
    import lit_align

    for name in ("a", "b"):
        assert lit_align.main(["--out", str(tmp_path / f"{name}.safetensors"), "--stills", "48", "--held-out", "8",
                               "--steps", "3", "--captions", "web"]) == 0
    a, b = (load_file(str(tmp_path / f"{n}.safetensors")) for n in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_notemporal_files_of_two_runs_do_not_collide(tmp_path):
    """Every run exports model.safetensors: the zeroed-branch files of two runs must be two files."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
    import lss_miniature

    class Model:
        def __init__(self, v):
            self.v = v

        def state_dict(self):
            return {"w": torch.full((1,), self.v)}

    a = lss_miniature.weights_file(str(tmp_path / "a" / "model.safetensors") + "@notemporal", tmp_path, Model(1.0))
    b = lss_miniature.weights_file(str(tmp_path / "b" / "model.safetensors") + "@notemporal", tmp_path, Model(2.0))
    assert a != b
    from safetensors.torch import load_file

    assert float(load_file(a)["w"]) == 1.0 and float(load_file(b)["w"]) == 2.0
