"""videossl: temporal CLIP trained against an action concept space, plus video I/O, extraction and zero-shot.

``videossl.create_model(name, pretrained=..., device=...)`` and ``videossl.list_models()`` are the
contract's entry points (re-exported from :mod:`videossl.models`, imported on first use so that
``import videossl`` stays cheap).
"""

__version__ = "0.1.0"

_LAZY = {"create_model": "videossl.models", "list_models": "videossl.models"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'videossl' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = ["create_model", "list_models", "__version__"]
