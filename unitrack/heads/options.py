"""Head options, one mechanism for every task, and the ``run_sequence`` plumbing the propagation/DCF heads share.

Options are a flat ``{key: value}`` dict (``unitrack eval/track --opt KEY=VALUE``, or ``options=`` from
Python). A key is a field of the task's config dataclass — sot :class:`~unitrack.heads.sot.DCFConfig`,
vos/pose :class:`~unitrack.heads.propagation.PropagationConfig`, mot/mots
:class:`~unitrack.heads.association.tracker.TrackerConfig`, posetrack its subclass
:class:`~unitrack.heads.posetrack.PoseTrackConfig` — or ``baseline`` (sot/vos/pose:
``copy-first``, the trivial baseline) or ``preset`` (mot, mots, posetrack, vos: a named group of values from
:data:`PRESETS`, e.g. ``preset=unitrack`` for UniTrack's published formulas; explicit keys override it).
String values are parsed to the field's type (bool:
true/false/1/0/yes/no; int; float; ``none`` for a field that may be None). An unknown key or a value that
does not parse is one :class:`~videossl.errors.InputError` line naming the key, the task and the valid keys.
The old nested MOT/MOTS form ``{"tracker": {...}}`` is still read (flattened).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from unitrack.tasks import TASKS, get_task
from videossl.errors import InputError

BASELINE = "copy-first"


def _where() -> str:
    """Which config dataclass holds each task's keys (for the help text and error lines), from the task table."""
    by_cls: dict[str, list[str]] = {}
    for t in TASKS.values():
        by_cls.setdefault(t.config, []).append(t.name)
    parts = [f"{', '.join(names)}: {ref.rsplit(':', 1)[1]} in {ref.split(':')[0].replace('.', '/')}.py"
             for ref, names in by_cls.items()]
    extra = [t.name for t in TASKS.values() if "baseline" in t.extra_options]
    presets = [t.name for t in TASKS.values() if "preset" in t.extra_options]
    return "; ".join(parts) + f"; {', '.join(extra)} also baseline={BASELINE}; {', '.join(presets)} also preset=unitrack|tuned"


# task -> keys outside its config dataclass, and the config class itself, both from the task table
EXTRA_KEYS = {name: t.extra_options for name, t in TASKS.items()}
WHERE = _where()
# task -> preset name -> option values (``--opt preset=NAME``; an explicit ``--opt KEY=VALUE`` wins). Both presets
# name every value they set, so each stays what it says whichever is the default. ``unitrack``: UniTrack's code
# (core/association/matching.py reconsdot_distance, tracker/mot/*.py, test/test_vos.py + data/vos.py);
# ``tuned``: the variants measured in eval/results/mot.md and vos.md.
_MOT_UNITRACK = {"recons_norm": "all", "map_alpha": 0.0, "centre_features": False, "roi_aligned": False,
                 "dup_tentative": True}
_MOT_TUNED = {"recons_norm": "pair", "map_alpha": 0.7, "centre_features": True, "roi_aligned": True,
              "dup_tentative": False}
PRESETS = {
    "mot": {"unitrack": {**_MOT_UNITRACK, "output_gap": 0}, "tuned": {**_MOT_TUNED, "output_gap": 1}},
    "mots": {"unitrack": {**_MOT_UNITRACK, "confirm_new": True, "motion_gated": False, "mask_cells": 200,
                          "det_dup_iou": 0.7},
             "tuned": {**_MOT_TUNED, "confirm_new": False, "motion_gated": True, "mask_cells": None,
                       "det_dup_iou": None}},
    # UniTrack's config section ``posetrack`` + tracker/mot/pose.py (skeleton-mask cells, new tracks confirmed at
    # once); its frame_rate 6 x track_buffer 30 / 30 keeps a lost track 6 frames, i.e. track_buffer 6 at 30 fps
    "posetrack": {"unitrack": {**_MOT_UNITRACK, "pooling": "skeleton", "mask_cells": 400, "box_margin": 0.5,
                               "track_buffer": 6, "motion_lambda": 0.9999, "motion_gated": False,
                               "dup_iou_thresh": 0.2, "confirm_iou_thresh": 0.6, "confirm_new": True},
                  "tuned": {**_MOT_TUNED, "pooling": "box", "mask_cells": None, "box_margin": 0.65,
                            "track_buffer": 30, "motion_lambda": 0.98, "motion_gated": True,
                            "dup_iou_thresh": 0.15, "confirm_iou_thresh": 0.7, "confirm_new": False}},
    "vos": {"unitrack": {"context_fill": "first", "label_resize": "bilinear"},
            "tuned": {"context_fill": "empty", "label_resize": "area"}},
}
# task -> the preset its defaults are (no ``preset`` option given): the measured winner of the two, recorded with
# both presets' figures in eval/results/mot.md (mot, mots) and eval/results/vos.md (vos).
DEFAULT_PRESET = {"mot": "tuned", "mots": "unitrack", "posetrack": "tuned", "vos": "tuned"}
_TRUE, _FALSE, _NONE = ("true", "1", "yes"), ("false", "0", "no"), ("none", "null")


def config_class(task: str) -> type:
    """The config dataclass of ``task`` (imported on use: the heads import this module)."""
    return get_task(task).config_class()


def parse_opt_args(items: list[str] | None) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (repeated ``--opt``) -> ``{KEY: "VALUE"}``; the last of a repeated key wins."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(None, f"--opt {item!r}: expected KEY=VALUE (valid keys: {WHERE})")
        out[key] = value.strip()
    return out


def _flatten(options: dict | None) -> dict:
    flat = dict(options or {})
    nested = flat.pop("tracker", None) if isinstance(flat.get("tracker"), dict) else None
    return {**nested, **flat} if nested else flat


def _optional(tp) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _describe(tp) -> str:
    if _optional(tp):
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None)) + " or none"
    return {bool: "true/false/1/0/yes/no", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _coerce(value, tp):
    """``value`` as the field type ``tp``; ``ValueError`` when it cannot be."""
    args = typing.get_args(tp)
    if _optional(tp):
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        (tp,) = [a for a in args if a is not type(None)]
    if isinstance(value, str):
        s = value.strip()
        if tp is bool:
            if s.lower() in _TRUE + _FALSE:
                return s.lower() in _TRUE
            raise ValueError(value)
        if tp is int:
            return int(s)
        if tp is float:
            return float(s)
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    raise ValueError(value)


def normalize_options(task: str, options: dict | None) -> dict:
    """Check and type a task's options: the flat dict the heads read (see the module docstring)."""
    cls = config_class(task)
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    extra = EXTRA_KEYS[task]
    flat = _flatten(options)
    preset = flat.pop("preset", None)
    out = {}
    if preset is not None and not (isinstance(preset, str) and preset.strip().lower() in _NONE):
        if "preset" not in extra or preset not in PRESETS.get(task, {}):
            names = ", ".join(PRESETS.get(task, {})) or "none"
            raise InputError(None, f"option preset={preset!r} for task {task}: presets are {names}")
        flat = {**PRESETS[task][preset], **flat}  # explicit options override the preset's values
        out["preset"] = preset  # recorded with the values it set (metrics.json)
    for key, value in flat.items():
        if key in extra:  # baseline
            if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
                continue
            if value != BASELINE:
                raise InputError(None, f"option baseline={value!r} for task {task}: the only baseline is {BASELINE}")
            out[key] = value
            continue
        if key not in fields:
            raise InputError(None, f"unknown option {key!r} for task {task} ({cls.__name__}); valid keys: "
                                   f"{', '.join(fields + list(extra))}")
        try:
            out[key] = _coerce(value, hints[key])
        except ValueError:
            raise InputError(None, f"option {key}={value!r} for task {task}: cannot parse, "
                                   f"expected {_describe(hints[key])}") from None
    return out


def config_from_options(cls: type, options: dict | None, task: str, base=None):
    """The head's config: ``base`` (default ``cls()``) with the task's options applied (typed, checked)."""
    opts = normalize_options(task, options)
    cfg = base if base is not None else cls()
    if "preset" not in opts and task in DEFAULT_PRESET:  # the default preset's values, under the caller's base
        cfg = dataclasses.replace(cfg, **PRESETS[task][DEFAULT_PRESET[task]])
    return dataclasses.replace(cfg, **{k: v for k, v in opts.items() if k not in EXTRA_KEYS[task]})


def copy_first(first, n: int, on_frame=None) -> np.ndarray:
    """The copy-first baseline: ``first`` repeated for ``n`` frames, each passed to ``on_frame(t, None, it)``."""
    out = np.repeat(np.asarray(first)[None], n, 0)
    if on_frame is not None:
        for t in range(n):
            on_frame(t, None, out[t])
    return out


def is_baseline(job) -> bool:
    return job.model_name == BASELINE or job.options.get("baseline") == BASELINE


class HeadRun:
    """What :func:`head_run` yields: ``cfg``, ``baseline``, ``model`` (None for the baseline), ``timings``
    (the head fills it), ``on_frame`` (draws into ``job.render``; None without ``--render``)."""

    def __init__(self, job, cls: type, task: str):
        self.cfg = config_from_options(cls, job.options, task)
        self.baseline = is_baseline(job)
        self.model = None if self.baseline else job.model
        self.timings: dict = {}
        self.on_frame = None

    def result(self, frames: int) -> dict:
        """``run_sequence``'s return value: ``{"frames": n}`` plus the time split."""
        return {"frames": frames, **self.timings}


@contextmanager
def head_run(job, cls: type, task: str, seq, draw, fps: float = 25.0):
    """One sequence of a sot/vos/pose head: the config from ``job.options``, and with ``job.render`` an mp4
    writer whose ``on_frame(t, rgb, *prediction)`` draws ``draw(viz, t, rgb, *prediction)`` (``rgb`` None: the
    frame is read from ``seq``). The mp4 is kept when the block finishes, removed when it raises."""
    run = HeadRun(job, cls, task)
    if job.render is None:
        yield run
        return
    from unitrack import viz

    with viz.Mp4Writer(Path(job.render), fps) as writer:  # kept on success, removed when the block raises

        def on_frame(t, rgb, *prediction):
            rgb = rgb if rgb is not None else seq.load_frames([t])[0]
            writer.write(draw(viz, t, rgb, *prediction))

        run.on_frame = on_frame
        yield run
