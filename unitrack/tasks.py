"""The task table: every tracking task of the toolkit, one entry each, read by every command.

``unitrack eval`` (reader, head, prediction path, metrics), ``unitrack track`` (the first-frame target
flag, prediction path, writer, renderer), ``unitrack metrics`` (metric module and keys), ``unitrack data
synth`` (ROOT folder name and synthetic generator), ``unitrack bench`` (all of them) and
``unitrack.heads.options`` (the config dataclass behind ``--opt``) look a task up here instead of keeping
their own list. A new task is one :class:`Task` entry in :data:`TASKS` plus the modules it names.

Modules and functions are named as ``"module"`` / ``"module:attr"`` strings and imported on use, so
importing this table stays cheap (``unitrack --help`` never imports torch).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from videossl.errors import InputError


def _resolve(ref: str):
    """``"pkg.mod"`` -> the module; ``"pkg.mod:attr"`` -> that attribute."""
    mod, _, attr = ref.partition(":")
    m = importlib.import_module(mod)
    return getattr(m, attr) if attr else m


@dataclass(frozen=True)
class Task:
    """One tracking task.

    ``dataset``: the ROOT folder name of the task's dataset (the synthetic benchmark's sub-folder, and the
    sub-folder ``unitrack bench --data-root`` looks for); ``reader``: the ``unitrack.data`` module reading that
    layout; ``head``: the module with ``sequences(root)``, ``prediction_path(task_dir, seq)``,
    ``run_sequence(job)`` (see ``unitrack.eval``); ``config``: the head's settings dataclass (``--opt`` keys) and
    ``extra_options`` the keys outside it; ``prediction``: the prediction file under ``RUN/<task>/`` (``{seq}``
    the sequence, ``{name}`` its last path part; no suffix: a folder); ``writer`` / ``renderer``: the
    ``unitrack.data.writers`` (posetrack: ``unitrack.data.posetrack``) / ``unitrack.viz`` functions of its
    predictions; ``metrics``: the module with
    ``evaluate(gt_root, pred_dir, sequences)`` and ``metric_keys`` the contract's keys in table order
    (``headline`` the one the report card charts); ``synth``: the synthetic benchmark's writer;
    ``target``: the ``unitrack track`` flag giving the first-frame target (posetrack: every frame's keypoints);
    ``card_keys``: the report card's columns when not all of ``metric_keys`` (``report.json`` keeps them all);
    ``track_options``: config values ``unitrack track`` (a user's own video) starts from where they differ from
    the config's defaults, which ``unitrack eval`` keeps (``--opt`` overrides both).
    """

    name: str
    title: str
    dataset: str
    reader: str
    head: str
    config: str
    extra_options: tuple[str, ...]
    prediction: str
    writer: str
    renderer: str
    metrics: str
    metric_keys: tuple[str, ...]
    headline: str
    synth: str
    target: str
    card_keys: tuple[str, ...] = ()
    track_options: tuple[tuple[str, object], ...] = ()

    @property
    def shown_keys(self) -> tuple[str, ...]:
        return self.card_keys or self.metric_keys

    # -- the pieces, imported on use ---------------------------------------------------------------
    def head_module(self):
        return _resolve(self.head)

    def reader_module(self):
        return _resolve(self.reader)

    def config_class(self) -> type:
        return _resolve(self.config)

    def metric_module(self):
        return _resolve(self.metrics)

    def synth_writer(self):
        return _resolve(self.synth)

    def sequences(self, root) -> list[str]:
        return list(self.head_module().sequences(Path(root)))

    def prediction_path(self, task_dir, seq: str) -> Path:
        return Path(task_dir) / self.prediction.format(seq=seq, name=Path(seq).name)

    def evaluate(self, gt_root, pred_dir, sequences=None) -> dict:
        return self.metric_module().evaluate(gt_root, pred_dir, sequences)


# Order: the columns of UniTrack's main table (SOT, VOS, MOT, MOTS, pose), then its sixth setting (pose tracking).
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("sot", "SOT (OTB)", "otb", "unitrack.data.otb", "unitrack.heads.sot", "unitrack.heads.sot:DCFConfig",
         ("baseline",), "{seq}.txt", "unitrack.data.writers:write_otb", "unitrack.viz:draw_track_box",
         "unitrack.metrics.sot", ("success_auc", "precision_20"), "success_auc",
         "unitrack.data.synth.layouts:write_otb", "box"),
    Task("vos", "VOS (DAVIS)", "davis", "unitrack.data.davis", "unitrack.heads.vos",
         "unitrack.heads.propagation:PropagationConfig", ("baseline", "preset"), "{seq}",
         "unitrack.data.writers:write_davis_png",
         "unitrack.viz:draw_label_map", "unitrack.metrics.vos", ("J_mean", "F_mean", "JF_mean"), "JF_mean",
         "unitrack.data.synth.layouts:write_davis", "mask"),
    Task("mot", "MOT (MOT17)", "mot17", "unitrack.data.mot", "unitrack.heads.mot",
         "unitrack.heads.association.tracker:TrackerConfig", ("preset",), "{seq}.txt", "unitrack.data.writers:write_mot",
         "unitrack.viz:draw_boxes", "unitrack.metrics.mot", ("MOTA", "IDF1", "HOTA", "IDSW", "FP", "FN"), "IDF1",
         "unitrack.data.synth.layouts:write_mot17", "detections",
         # own video: a lost track stays re-identifiable 3 s (90 frames at 30 fps; UniTrack's 30 = 1 s is for
         # MOT17's detector): the built-in HOG detector misses a walker for seconds (turning, half hidden, in a
         # group), and each miss past the buffer was a new id (vtest.avi: 49 -> 33 ids, eval/results/own-video.md)
         track_options=(("track_buffer", 90),)),
    Task("mots", "MOTS (MOTS20)", "mots20", "unitrack.data.mots", "unitrack.heads.mots",
         "unitrack.heads.association.tracker:TrackerConfig", ("preset",), "{seq}.txt", "unitrack.data.writers:write_mots",
         "unitrack.viz:draw_masks", "unitrack.metrics.mots", ("sMOTSA", "MOTSA", "IDF1", "IDSW"), "IDF1",
         "unitrack.data.synth.layouts:write_mots20", "detections"),
    Task("pose", "Pose (JHMDB)", "jhmdb", "unitrack.data.jhmdb", "unitrack.heads.pose",
         "unitrack.heads.propagation:PropagationConfig", ("baseline",), "{name}.json",
         "unitrack.data.writers:write_pose_json", "unitrack.viz:draw_pose", "unitrack.metrics.pose",
         ("PCK@0.1", "PCK@0.2"), "PCK@0.1", "unitrack.data.synth.layouts:write_jhmdb", "joints"),
    Task("posetrack", "PoseTrack", "posetrack18", "unitrack.data.posetrack", "unitrack.heads.posetrack",
         "unitrack.heads.posetrack:PoseTrackConfig", ("preset",), "{seq}.json",
         "unitrack.data.posetrack:write_predictions", "unitrack.viz:draw_people", "unitrack.metrics.posetrack",
         ("MOTA", "MOTP", "Precision", "Recall", "IDF1", "IDSW", "mAP", "IDF1_person", "HOTA_person"), "MOTA",
         "unitrack.data.synth.layouts:write_posetrack", "keypoints",
         ("MOTA", "IDF1", "IDSW", "mAP")),  # UniTrack's table reports PoseTrack's MOTA and IDF1
)}
NAMES: tuple[str, ...] = tuple(TASKS)
# The appearance model of `unitrack eval / track / bench` when none is named: the best real model that installs
# offline. On real DAVIS-2016 frames (eval/results/backbones.md) VOS J&F: mobilenetv2 ImageNet 74.9,
# efficientnet-lite0 74.7, videossl-tiny 23.1, copy-first 13.0 (random features do worse than copying).
DEFAULT_MODEL = "mobilenetv2"
COUNT_KEYS = frozenset({"IDSW", "FP", "FN"})  # metric values that are integers (the rest are fractions)


def get_task(name: str) -> Task:
    """The table entry of ``name``; an unknown name is one ``InputError`` line listing the tasks."""
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(None, f"unknown task {name!r} (choose from {', '.join(NAMES)})") from None


def parse_task_list(text: str | list[str] | tuple[str, ...] | None, flag: str = "--tasks",
                    allowed: tuple[str, ...] = NAMES) -> list[str]:
    """``"sot,vos"`` or ``["sot", "vos"]`` (or ``["sot,vos"]``) -> checked task names in the given order."""
    if text is None:
        return list(allowed)
    items = [text] if isinstance(text, str) else list(text)
    names = [t.strip() for item in items for t in str(item).split(",") if t.strip()]
    unknown = [t for t in names if t not in allowed]
    if unknown or not names:
        raise InputError(None, f"{flag}: unknown task(s) {', '.join(unknown) or '(none given)'}; "
                               f"choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))
