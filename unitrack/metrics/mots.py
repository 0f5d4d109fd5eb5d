"""Multi-object tracking and segmentation: sMOTSA, MOTSA, IDF1 and ID switches as MOTS20 defines them.

Objects are ``(frame, obj_id, class_id, rle)`` with COCO RLE masks (``{"size": [h, w], "counts"}``);
MOTS20 ids are ``class_id * 1000 + k``; class 2 = pedestrian (the evaluated class), class 10 = ignore
region. Per frame, following ``mots_tools`` (Voigtlaender et al., CVPR 2019) and TrackEval's
``MOTSChallenge`` (the evaluator of the MOTChallenge server):

* ground truth = class-2 masks; predictions = class-2 masks (other classes are dropped);
* a prediction and a ground-truth mask correspond when their mask IoU > 0.5 — unique because masks
  of one frame do not overlap, so no assignment problem arises;
* an unmatched prediction lying more than half inside the union of the frame's ignore regions
  (``|P ∩ I| / |P| > 0.5``) is removed — neither FP nor counted anywhere else;
* TP / FN / FP per frame; an ID switch when a ground-truth track is matched to a different predicted
  id than at its previous match; ``TP~ = Σ IoU`` over matches;
* ``MOTSA = (|TP| - |FP| - IDSW) / |M|``, ``sMOTSA = (TP~ - |FP| - IDSW) / |M|`` (|M| = ground-truth
  masks), ``IDF1 = 2 IDTP / (|M| + |predictions|)`` with the identity assignment of Ristani et al.
  over IoU > 0.5 pairs.

Counting and the identity assignment run through TrackEval's ``CLEAR`` and ``Identity`` metrics on
the preprocessed frames, with IoU ≤ 0.5 zeroed so that their ``>= 0.5`` test becomes MOTS's ``> 0.5``
(``mots_tools``' ``c > 0.5``). This is the one place where TrackEval's MOTSChallenge differs: it
matches a pair whose IoU is exactly 0.5; elsewhere the results are identical (tested against it).
Stated difference from ``mots_tools``: its IDF1 keeps predictions inside ignore regions in the
denominator (its own TODO notes it); TrackEval and this module remove them first. Sequences combine
by summing counts. With no ground truth a zero denominator is taken as 1 (TrackEval's convention).
"""

from __future__ import annotations

import numpy as np

PEDESTRIAN = 2
IGNORE_CLASS = 10
IOU_THRESHOLD = 0.5
_EPS = np.finfo(float).eps


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


def preprocess(gt, pred, num_frames: int | None = None, class_id: int = PEDESTRIAN):
    """Per frame ``(gt_ids, pred_ids, iou[gt, pred])`` after the MOTS20 rules (1-based frames)."""
    from pycocotools import mask as mask_utils

    gt, pred = list(gt), list(pred)
    if num_frames is None:
        num_frames = max([int(o[0]) for o in gt + pred], default=0)
    out = []
    for g, p in zip(_by_frame(gt, num_frames), _by_frame(pred, num_frames)):
        gm = [o for o in g if o[1] == class_id]
        ign = [o[2] for o in g if o[1] == IGNORE_CLASS]
        pm = [o for o in p if o[1] == class_id]
        if gm and pm:
            iou = np.asarray(mask_utils.iou([o[2] for o in pm], [o[2] for o in gm], [False] * len(gm))).T
        else:
            iou = np.zeros((len(gm), len(pm)))
        keep = np.ones(len(pm), bool)
        if ign and pm:
            matched = np.any(iou > IOU_THRESHOLD, axis=0)
            region = mask_utils.merge(ign, intersect=False)
            ioa = np.asarray(mask_utils.iou([o[2] for o in pm], [region], [True])).reshape(-1)
            keep = matched | ~(ioa > IOU_THRESHOLD + _EPS)
        out.append((np.array([o[0] for o in gm], np.int64), np.array([o[0] for o in pm], np.int64)[keep],
                     iou[:, keep]))
    return out


def _trackeval_data(frames) -> dict:
    def relabel(ids):
        allids = np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
        return [np.searchsorted(allids, i) for i in ids], len(allids)

    gids, n_gt = relabel([f[0] for f in frames])
    pids, n_pr = relabel([f[1] for f in frames])
    sims = [np.where(f[2] > IOU_THRESHOLD, f[2], 0.0) for f in frames]
    return {
        "num_timesteps": len(frames), "num_gt_ids": n_gt, "num_tracker_ids": n_pr,
        "num_gt_dets": int(sum(len(g) for g in gids)), "num_tracker_dets": int(sum(len(p) for p in pids)),
        "gt_ids": gids, "tracker_ids": pids, "similarity_scores": sims,
    }


def _metrics():
    from trackeval.metrics import CLEAR, Identity

    cfg = {"PRINT_CONFIG": False, "THRESHOLD": IOU_THRESHOLD}
    return CLEAR(cfg), Identity(cfg)


def _figures(clear: dict, ident: dict) -> dict:
    n_gt = max(1, int(clear["CLR_TP"] + clear["CLR_FN"]))
    fp, idsw = int(clear["CLR_FP"]), int(clear["IDSW"])
    return {
        "sMOTSA": float((clear["MOTP_sum"] - fp - idsw) / n_gt),
        "MOTSA": float((clear["CLR_TP"] - fp - idsw) / n_gt),
        "IDF1": float(ident["IDF1"]),
        "IDSW": idsw,
    }


def mots_sequence(gt, pred, num_frames: int | None = None, class_id: int = PEDESTRIAN) -> tuple[dict, dict, dict]:
    """Figures and TrackEval's raw CLEAR / Identity results of one sequence."""
    data = _trackeval_data(preprocess(gt, pred, num_frames, class_id))
    clear_m, id_m = _metrics()
    clear, ident = clear_m.eval_sequence(data), id_m.eval_sequence(data)
    return _figures(clear, ident), clear, ident


def evaluate_arrays(gt: dict[str, list], pred: dict[str, list], num_frames: dict[str, int] | None = None) -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: [(frame, id, class, rle), ...]}``."""
    parts = {s: mots_sequence(g, pred.get(s, []), (num_frames or {}).get(s)) for s, g in gt.items()}
    clear_m, id_m = _metrics()
    if parts:
        overall = _figures(clear_m.combine_sequences({s: p[1] for s, p in parts.items()}),
                           id_m.combine_sequences({s: p[2] for s, p in parts.items()}))
    else:
        overall = {"sMOTSA": 0.0, "MOTSA": 0.0, "IDF1": 0.0, "IDSW": 0}
    return {"overall": overall, "per_sequence": {s: p[0] for s, p in parts.items()}}


def _objects(rows) -> list[tuple[int, int, int, dict]]:
    """:class:`unitrack.data.mots.MOTSRows` (0-based frames) as 1-based ``(frame, id, class, rle)`` tuples."""
    return [(int(f) + 1, int(i), int(c), r) for f, i, c, r in zip(rows.frame, rows.obj_id, rows.class_id, rows.rles)]


def evaluate(gt_root, pred_dir, sequences=None, split: str = "train") -> dict:
    """Score ``pred_dir/<SEQ>.txt`` against the MOTS20 layout ``gt_root/<split>/<SEQ>/{gt/gt.txt, seqinfo.ini}``.

    Both are read with :mod:`unitrack.data.mots` (masks checked against the frame size, frames against
    ``seqLength``); images are not needed.
    """
    from pathlib import Path

    from unitrack.data import mot as motdata
    from unitrack.data import mots as motsdata
    from unitrack.metrics._files import prediction_file

    names = list(sequences) if sequences is not None else motsdata.list_sequences(gt_root, split)
    gt, pred, lengths = {}, {}, {}
    for name in names:
        seq_dir = Path(gt_root) / split / name
        info = motdata.read_seqinfo(seq_dir / "seqinfo.ini")
        n, size = int(info["seqLength"]), (int(info["imHeight"]), int(info["imWidth"]))
        lengths[name] = n
        gt[name] = _objects(motsdata.read_mots_txt(seq_dir / "gt" / "gt.txt", size, n))
        path = prediction_file(pred_dir, f"{name}.txt")
        pred[name] = _objects(motsdata.read_mots_txt(path, size, n)) if path is not None else []
    return evaluate_arrays(gt, pred, lengths)
