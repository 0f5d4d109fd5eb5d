"""Multi-object tracking and segmentation: sMOTSA, MOTSA, IDF1 and ID switches as MOTS20 defines them.

Objects are ``(frame, obj_id, class_id, rle)`` with COCO RLE masks (``{"size": [h, w], "counts"}``);
MOTS20 ids are ``class_id * 1000 + k``; class 2 = pedestrian (the evaluated class), class 10 = ignore
region. Every figure comes from TrackEval's ``MOTSChallenge`` (the evaluator of the MOTChallenge
server) in one pass: its mask IoU (``_calculate_similarities``), its ``get_preprocessed_seq_data``
(class-2 ground truth and predictions; an unmatched prediction — Hungarian on IoU >= 0.5 — lying more
than half inside the frame's merged ignore regions is removed), then its ``CLEAR`` (``MOTSA`` is its
``MOTA``, ``sMOTSA`` its ``sMOTA``, ``TP~ = Σ IoU``) and ``Identity`` (IDF1), combined over sequences by
their ``combine_sequences``. With no ground truth a zero denominator is taken as 1 (TrackEval's convention).

Stated differences from ``mots_tools`` (Voigtlaender et al., CVPR 2019, the original MOTS code): it
matches only IoU > 0.5 where TrackEval matches IoU >= 0.5 (a pair at exactly 0.5 counts here, as on
the server), and its IDF1 keeps predictions inside ignore regions in the denominator (its own TODO
notes it). Files are read by :mod:`unitrack.data.mots` (RLE, frame and size checked with the line named).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from videossl.errors import InputError

PEDESTRIAN = 2
IGNORE_CLASS = 10
IOU_THRESHOLD = 0.5


def encode_mask(mask: np.ndarray) -> dict:
    """COCO RLE (``counts`` as str) of a binary ``[H, W]`` mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _rle(r: dict) -> dict:
    c = r["counts"]
    return {"size": list(r["size"]), "counts": c.encode("ascii") if isinstance(c, str) else c}


def _by_frame(objs, num_frames: int) -> list[list[tuple[int, int, dict]]]:
    frames: list[list] = [[] for _ in range(num_frames)]
    for f, oid, cls, rle in objs:
        if 1 <= int(f) <= num_frames:
            frames[int(f) - 1].append((int(oid), int(cls), _rle(rle)))
    return frames


@functools.lru_cache(maxsize=None)
def _dataset():
    """TrackEval's ``MOTSChallenge``, used for its similarity and preprocessing only (it never reads files here;
    its constructor wants one existing ground-truth file, so it is pointed at its own module file)."""
    from trackeval.datasets import MOTSChallenge
    from trackeval.datasets import mots_challenge as module

    here = str(Path(module.__file__).resolve()).replace("{", "{{").replace("}", "}}")
    return MOTSChallenge({"GT_LOC_FORMAT": here, "SKIP_SPLIT_FOL": True, "SEQ_INFO": {"_": 1},
                          "TRACKERS_TO_EVAL": [], "PRINT_CONFIG": False})


def raw_sequence(seq: str, gt, pred, num_frames: int | None = None) -> dict:
    """TrackEval's raw data of one sequence (what ``MOTSChallenge.get_raw_seq_data`` returns), 1-based frames."""
    from pycocotools import mask as mask_utils

    gt, pred = list(gt), list(pred)
    if num_frames is None:
        num_frames = max([int(o[0]) for o in gt + pred], default=0)
    ds = _dataset()
    raw = {k: [] for k in ("gt_ids", "gt_classes", "gt_dets", "gt_ignore_region", "tracker_ids", "tracker_classes",
                           "tracker_dets", "similarity_scores")}
    for g, p in zip(_by_frame(gt, num_frames), _by_frame(pred, num_frames)):
        objs = [o for o in g if o[1] != IGNORE_CLASS]
        raw["gt_ids"].append(np.array([o[0] for o in objs], int))
        raw["gt_classes"].append(np.array([o[1] for o in objs], int))
        raw["gt_dets"].append([o[2] for o in objs])
        raw["gt_ignore_region"].append(mask_utils.merge([o[2] for o in g if o[1] == IGNORE_CLASS], intersect=False))
        raw["tracker_ids"].append(np.array([o[0] for o in p], int))
        raw["tracker_classes"].append(np.array([o[1] for o in p], int))
        raw["tracker_dets"].append([o[2] for o in p])
        raw["similarity_scores"].append(ds._calculate_similarities(raw["gt_dets"][-1], raw["tracker_dets"][-1]))
    raw.update(num_timesteps=num_frames, seq=seq)
    return raw


def _metrics():
    from trackeval.metrics import CLEAR, Identity

    cfg = {"PRINT_CONFIG": False, "THRESHOLD": IOU_THRESHOLD}
    return {"CLEAR": CLEAR(cfg), "Identity": Identity(cfg)}


def _figures(res: dict) -> dict:
    clear, ident = res["CLEAR"], res["Identity"]
    return {"sMOTSA": float(clear["sMOTA"]), "MOTSA": float(clear["MOTA"]), "IDF1": float(ident["IDF1"]),
            "IDSW": int(clear["IDSW"])}


def mots_sequence(gt, pred, num_frames: int | None = None, seq: str = "seq") -> tuple[dict, dict]:
    """Figures and TrackEval's raw ``{"CLEAR", "Identity"}`` results of one sequence.

    Raises ``ValueError`` (TrackEval's message) for an id repeated within a frame.
    """
    from trackeval.utils import TrackEvalException

    try:
        data = _dataset().get_preprocessed_seq_data(raw_sequence(seq, gt, pred, num_frames), "pedestrian")
    except TrackEvalException as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    res = {name: m.eval_sequence(data) for name, m in _metrics().items()}
    return _figures(res), res


def evaluate_arrays(gt: dict[str, list], pred: dict[str, list], num_frames: dict[str, int] | None = None) -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: [(frame, id, class, rle), ...]}``."""
    figs, parts = {}, {}
    for s, g in gt.items():
        figs[s], parts[s] = mots_sequence(g, pred.get(s, []), (num_frames or {}).get(s), s)
    if not parts:
        return {"overall": {"sMOTSA": 0.0, "MOTSA": 0.0, "IDF1": 0.0, "IDSW": 0}, "per_sequence": {}}
    overall = _figures({name: m.combine_sequences({s: r[name] for s, r in parts.items()}) for name, m in _metrics().items()})
    return {"overall": overall, "per_sequence": figs}


def _objects(rows) -> list[tuple[int, int, int, dict]]:
    """:class:`unitrack.data.mots.MOTSRows` (0-based frames) as 1-based ``(frame, id, class, rle)`` tuples."""
    return [(int(f) + 1, int(i), int(c), r) for f, i, c, r in zip(rows.frame, rows.obj_id, rows.class_id, rows.rles)]


def evaluate(gt_root, pred_dir, sequences=None, split: str = "train") -> dict:
    """Score ``pred_dir/<SEQ>.txt`` against the MOTS20 layout ``gt_root/<split>/<SEQ>/{gt/gt.txt, seqinfo.ini}``.

    Both are read with :mod:`unitrack.data.mots` (masks checked against the frame size, frames against
    ``seqLength``); images are not needed.
    """
    from unitrack.data import mot as motdata
    from unitrack.data import mots as motsdata
    from unitrack.metrics._files import prediction_file

    names = list(sequences) if sequences is not None else motsdata.list_sequences(gt_root, split)
    figs, parts = {}, {}
    for name in names:
        seq_dir = Path(gt_root) / split / name
        info = motdata.read_seqinfo(seq_dir / "seqinfo.ini")
        n, size = int(info["seqLength"]), (int(info["imHeight"]), int(info["imWidth"]))
        gt_path = seq_dir / "gt" / "gt.txt"
        gt = _objects(motsdata.read_mots_txt(gt_path, size, n))
        path = prediction_file(pred_dir, f"{name}.txt")
        pred = _objects(motsdata.read_mots_txt(path, size, n)) if path is not None else []
        try:
            figs[name], parts[name] = mots_sequence(gt, pred, n, name)
        except ValueError as exc:
            raise InputError(path if str(exc).startswith("Tracker") else gt_path, str(exc)) from None
    if not parts:
        return {"overall": {"sMOTSA": 0.0, "MOTSA": 0.0, "IDF1": 0.0, "IDSW": 0}, "per_sequence": {}}
    overall = _figures({k: m.combine_sequences({s: r[k] for s, r in parts.items()}) for k, m in _metrics().items()})
    return {"overall": overall, "per_sequence": figs}
