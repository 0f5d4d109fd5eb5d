"""Finding and loading weights: local checkpoints, torchvision/open_clip caches, the shipped file.

Nothing here downloads on its own when the file is not already on disk: the hubs retry for tens
of seconds offline (open_clip ~47 s), so every lookup checks the local cache first and fails at
once with one :class:`~videossl.errors.MissingWeightsError` line naming the id/file and how to
supply it (a local path via ``pretrained=PATH`` / ``--pretrained PATH``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from videossl.errors import InputError, MissingWeightsError

#: Keys under which training scripts commonly nest the weights (timm, DINO, our trainer's torch files).
#: BYOL (sthalles/PyTorch-BYOL) saves ``online_network_state_dict``.
_NESTED_KEYS = ("state_dict", "model", "teacher", "online_network_state_dict", "module")


def looks_like_path(pretrained: str | os.PathLike) -> bool:
    """A tag ("openai", "imagenet") or a HF id ("org/name") versus a file on disk."""
    s = os.fspath(pretrained)
    return os.path.exists(s) or s.endswith((".safetensors", ".pt", ".pth", ".bin", ".ckpt")) or s.startswith((".", "/", "~"))


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors or torch checkpoint (plain, or nested under state_dict/model/...)."""
    path = Path(os.path.expanduser(os.fspath(path)))
    if not path.is_file():
        raise MissingWeightsError(path, "checkpoint file not found (pass an existing .safetensors or .pt file)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt / truncated / not a checkpoint
        raise InputError(path, f"cannot read checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    for key in _NESTED_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "not a state dict of tensors (expected plain, or under 'state_dict'/'model')")
    prefix = "module."  # DDP-wrapped saves
    if state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
    if state and any(k.startswith("teacher.") for k in state) and \
            all(k.startswith(("student.", "teacher.", "objective.")) for k in state):
        # a trainer step file: the EMA teacher is the model to use (as DINO/SVT evaluate it)
        state = {k[len("teacher."):]: v for k, v in state.items() if k.startswith("teacher.")}
    return state


def load_into(model: nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Strict load that reports mismatches as one line naming the file (a few keys shown)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                parts.append(f"{len(keys)} {label} keys ({shown})")
        name = getattr(model, "name", type(model).__name__)
        raise InputError(path, f"checkpoint does not fit model {name!r}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def torchvision_weights_file(weights) -> Path:
    """The cached file of a torchvision ``Weights`` enum entry (or its URL), or one clear error when absent."""
    url = weights if isinstance(weights, str) else weights.url
    hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
    path = hub_dir / os.path.basename(url)
    if path.is_file():
        return path
    raise MissingWeightsError(
        None, f"ImageNet weights {path.name} are not cached in {hub_dir} and cannot be downloaded offline; "
              f"download {url} there, or pass a local file with pretrained=PATH / --pretrained PATH")


def open_clip_weights_file(arch: str, tag: str) -> str:
    """The local file of an open_clip tag or HF id (HF cache or open_clip's URL cache), else one error line.

    Only caches are consulted, before open_clip is called: its own download path retries for
    ~47 s without network, and a registry lookup should never block or download on its own.
    """
    import open_clip

    if "/" in tag:  # a Hugging Face id ("hf-hub:org/name" or "org/name") of an open_clip repo
        repo = tag.removeprefix("hf-hub:").rstrip("/")
        hit = _hf_cached(repo, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
        if hit:
            return hit
        raise MissingWeightsError(None, f"Hugging Face weights {repo} are not in the local cache (never downloaded "
                                        f"implicitly); fetch them once with `huggingface-cli download {repo}`, "
                                        f"or pass a local file with pretrained=PATH / --pretrained PATH")
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = ", ".join(t for a, t in open_clip.list_pretrained() if a == arch) or "none"
        raise MissingWeightsError(None, f"open_clip has no pretrained tag {tag!r} for {arch} (tags: {tags})")
    if cfg.get("file"):
        return cfg["file"]
    hf = cfg.get("hf_hub", "")
    if hf:
        # open_clip's convention: "org/repo/" (default file names) or "org/repo/filename"
        repo, filename = (hf.rstrip("/"), "") if hf.endswith("/") else os.path.split(hf)
        hit = _hf_cached(repo, [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
        if hit:
            return hit
    url = cfg.get("url", "")
    if url:
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if cached.is_file():
            return str(cached)
    how = f"`huggingface-cli download {repo}`" if hf else f"downloading {url} to ~/.cache/clip/"
    raise MissingWeightsError(
        None, f"open_clip weights {arch}/{tag} are not in the local cache (never downloaded implicitly: offline, "
              f"open_clip retries for ~47 s); fetch them once with {how}, or pass a local file with "
              f"pretrained=PATH / --pretrained PATH")


def _hf_cached(repo: str, filenames: list[str]) -> str | None:
    """Path of the first of ``filenames`` in the local HF cache (no network is touched), else None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for fn in filenames:
        hit = try_to_load_from_cache(repo, fn)
        if isinstance(hit, str) and os.path.isfile(hit):
            return hit
    return None


#: Published self-supervised checkpoint layouts, as UniTrack's model zoo takes them: where the backbone sits
#: in the state dict (after the nesting key and a DDP ``module.`` are removed by :func:`read_state_dict`).
#: Everything outside the prefix (momentum encoder, queue, predictor, projector) is ignored.
PUBLISHED_FORMATS = (
    ("plain", ""),                                   # torchvision/timm saves, SwAV, SimCLR (converted), DINO backbones
    ("MoCo v1/v2 (DetCo, PCL)", "encoder_q."),        # module.encoder_q.* ; encoder_k.*, queue
    ("MoCo v3", "base_encoder."),                     # module.base_encoder.* ; momentum_encoder.*, predictor.*
    ("BYOL", "online_network.encoder."),              # online_network.encoder.* ; target_network.*, predictor.*
    ("PixPro / InsDis / SimCLR", "encoder."),         # module.encoder.* (BYOL's online_network_state_dict too)
    ("DINO / Barlow Twins", "backbone."),             # teacher/student dicts, Barlow's full checkpoint
)
#: Heads of self-supervised and supervised nets that a dense backbone leaves out (first or second key component).
HEAD_NAMES = frozenset({"fc", "head", "heads", "classifier", "projection_head", "prototypes", "projector",
                        "predictor", "projection", "projetion"})  # "projetion": BYOL (sthalles) spells it so


def _is_head(key: str) -> bool:
    return bool(HEAD_NAMES & set(key.split(".")[:2]))


def _summary(keys: list[str], prefix: str = "") -> str:
    """``encoder_k.* (320), queue, encoder_q.fc.* (4)``: keys grouped by their first component after ``prefix``."""
    groups: dict[str, int] = {}
    for k in keys:
        p = prefix if prefix and k.startswith(prefix) else ""
        head, dot, _ = k[len(p):].partition(".")
        g = f"{p}{head}.*" if dot else k
        groups[g] = groups.get(g, 0) + 1
    return ", ".join(f"{g} ({n})" if n > 1 else g for g, n in groups.items())


def select_backbone(model: nn.Module, state: dict) -> tuple[dict, dict, str, list[str]]:
    """The model's tensors inside a published checkpoint layout.

    Returns ``(kept, unexpected, format_label, ignored)``: ``kept`` the keys the model has, ``unexpected``
    extra keys that are neither a head nor declared dropped by the model (``drop_prefixes``) - a load
    then fails on them -, and the ignored key names (outside the backbone prefix, heads, dropped stages).
    """
    own = set(model.state_dict())
    adapt = getattr(model, "adapt_state_dict", lambda s: s)
    best = None
    for label, prefix in PUBLISHED_FORMATS:
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if sub:
            sub = adapt(sub)
            hits = len(own & set(sub))
            if best is None or hits > best[0]:
                best = (hits, label, prefix, sub)
    if best is None:
        return {}, {}, "plain", []
    _, label, prefix, sub = best
    drop = tuple(getattr(model, "drop_prefixes", ()))
    kept = {k: v for k, v in sub.items() if k in own}
    extra = [k for k in sub if k not in own]
    unexpected = {k: sub[k] for k in extra if not (_is_head(k) or (drop and k.startswith(drop)))}
    ignored = [k for k in state if not k.startswith(prefix)] + [prefix + k for k in extra if k not in unexpected]
    return kept, unexpected, label, ignored


def load_weights(model: nn.Module, state: dict, path: str | os.PathLike, note: bool = True) -> None:
    """Load a checkpoint in any published layout: prefix found, heads dropped, the rest strict.

    With ``note``, one line on stderr says which layout was read and lists what was ignored.
    """
    import sys

    kept, unexpected, label, ignored = select_backbone(model, state)
    prefix = dict(PUBLISHED_FORMATS).get(label, "")
    load_into(model, {**kept, **unexpected}, path)
    if note and ignored:
        print(f"note: {path}: {label} checkpoint, {len(kept)} tensors loaded; ignored {len(ignored)}: "
              f"{_summary(ignored, prefix)}", file=sys.stderr)
