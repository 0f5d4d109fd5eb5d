"""UniTrack: one frozen appearance model, five training-free tracking heads (SOT, VOS, MOT, MOTS, pose)."""

__version__ = "0.1.0"



def __getattr__(name):
    """``unitrack.track(task, video, out, ...)`` without importing torch on ``import unitrack``: the
    submodule ``unitrack.track`` is callable (it forwards to :func:`unitrack.track.track`), so the name
    stays a function call even after the import system binds the submodule to it."""
    if name == "track":
        import importlib

        return importlib.import_module("unitrack.track")
    raise AttributeError(f"module 'unitrack' has no attribute {name!r}")
