"""Multi-person pose tracking on PoseTrack: the official ``poseval`` metrics, plus person-track IDF1 / HOTA.

``poseval`` (L. Pishchulin's PoseTrack evaluation, the copy UniTrack ships in ``eval/poseval``) is not
installable here, so this module re-implements it from its code, step for step, and is tested on
hand-computed cases. What it does (and so what this does):

1. **Conversion** of the 2018 JSON to its 2017 form: the 17 keypoints map to poseval's 15 joints
   (:data:`JOINTS`; the ears are dropped), a keypoint ``[0, 0, 0]`` is "not annotated"; the head box
   ``bbox_head`` gives the normaliser ``head = 0.6 × ‖(w, h)‖``.
2. **Clean-up**: ground-truth frames with no person are removed, with the prediction frame of the same
   index (prediction and ground truth must list the same number of frames); then, in frames with
   ignore regions, every point (ground truth and prediction) inside a region polygon is removed and a
   person left with no point is removed.
3. **Matching, per frame**: ``d = ‖pred - gt‖ / head`` per joint, a joint matches when ``d <= 0.5``
   (PCKh@0.5); each prediction keeps only its best ground-truth person by PCKh, each ground-truth
   person then takes the best of the predictions that kept it.
4. **mAP** (pose estimation): per joint, the predicted joints of all frames ranked by score, a joint a
   true positive when its person was assigned and the joint matches; VOC AP over the precision /
   recall curve against the number of annotated joints; the total is the mean over the 15 joints.
5. **MOT** (tracking), per joint, with ``motmetrics``' accumulator (as poseval): objects are the
   annotated joints with their track ids, hypotheses the predicted joints with theirs, distance ``d``
   where the joint matches and no match otherwise. Per joint MOTA = 1 - (FN + IDSW + FP) / GT,
   MOTP = 1 - Σd / matches, precision, recall, summed over sequences; IDF1 is the *mean over
   sequences* of each sequence's IDF1; the totals average the 15 joints (IDSW: their sum).

poseval's quirks are kept, since published figures carry them: the **last frame of each sequence**
(after clean-up) is left out of the MOT metrics; a frame where either side has no person records one
fake object and one fake hypothesis (id 0, never matched) per joint, i.e. one FN and one FP, whatever
the number of people; track ids are made unique by adding ``100000 ×`` the sequence's index (sorted
names here; poseval's file-listing order), so the fake id 0 can meet a real id 0 of the first sequence.
MOTP sums the distances of matches (and switches), as poseval with the ``py-motmetrics`` it bundled;
the copy UniTrack ships runs on a newer ``motmetrics`` whose ``events`` also hold a RAW row for every
candidate pair, which that copy adds into the sum (it lowers MOTP; MOTA, IDF1 and mAP are unaffected).
Values are fractions (poseval prints percent).

Person-level ``IDF1_person`` and ``HOTA_person`` come from :mod:`unitrack.metrics.mot` (TrackEval) on
person boxes derived from the keypoints (:func:`unitrack.data.posetrack.keypoint_box`), ground truth
and prediction alike, every person a pedestrian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data.posetrack import KEYPOINTS, PoseTrackSequence, keypoint_box, load_split, load_sequence
from videossl.errors import InputError

# poseval's 15 joints (its ``Joint`` class order) and, for each, the PoseTrack 2018 keypoint it reads
JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
          "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "head_bottom",
          "nose", "head_top")
NUM_JOINTS = len(JOINTS)
JOINT_FROM_KEYPOINT = np.array([KEYPOINTS.index(j) for j in JOINTS])
# poseval's printed groups (``getCum``)
GROUPS = {"Head": ("head_top", "head_bottom", "nose"), "Shou": ("right_shoulder", "left_shoulder"),
          "Elb": ("right_elbow", "left_elbow"), "Wri": ("right_wrist", "left_wrist"),
          "Hip": ("right_hip", "left_hip"), "Knee": ("right_knee", "left_knee"),
          "Ankl": ("right_ankle", "left_ankle")}
DIST_THRESHOLD = 0.5
HEAD_FACTOR = 0.6
MIN_SCORE = -9999.0   # poseval's score for a predicted joint without one
MAX_TRACK_ID = 100000
_MOT_COUNTS = ("num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections", "idf1")


@dataclass
class People:
    """The persons of one frame in poseval's form: ``[N, 15]`` joints with a presence mask."""

    ids: np.ndarray      # int [N]
    xy: np.ndarray       # float [N, 15, 2]
    has: np.ndarray      # bool [N, 15]
    score: np.ndarray    # float [N, 15] (MIN_SCORE where missing)
    head: np.ndarray     # float [N] head size (nan where there is no head box)

    @classmethod
    def empty(cls) -> "People":
        return cls(np.zeros(0, np.int64), np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS), bool),
                   np.zeros((0, NUM_JOINTS)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, rows) -> "People":
        return People(self.ids[rows], self.xy[rows], self.has[rows], self.score[rows], self.head[rows])


def frame_people(persons, id_offset: int = 0) -> People:
    """poseval's conversion of one frame's persons (2018 → 2017 form)."""
    if not persons:
        return People.empty()
    kp = np.stack([p.keypoints for p in persons])[:, JOINT_FROM_KEYPOINT]             # [N, 15, 3]
    has = ~((kp[..., 0] == 0) & (kp[..., 1] == 0) & (kp[..., 2] == 0))
    score = np.full(has.shape, MIN_SCORE)
    for n, p in enumerate(persons):
        if p.scores is not None:
            score[n] = p.scores[JOINT_FROM_KEYPOINT]
    head = np.array([HEAD_FACTOR * math.hypot(p.head_box[2], p.head_box[3]) if p.head_box is not None else np.nan
                     for p in persons])
    ids = np.array([p.track_id + id_offset for p in persons], np.int64)
    return People(ids, kp[..., :2].copy(), has, score, head)


def remove_ignored(people: People, regions) -> People:
    """Points inside an ignore polygon are removed; persons left with no point are removed (poseval)."""
    if not regions or not len(people):
        return people
    from shapely import Point, Polygon

    polys = [Polygon(r) for r in regions]
    has = people.has.copy()
    for n, j in zip(*np.nonzero(has)):
        pt = Point(people.xy[n, j])
        if any(poly.contains(pt) for poly in polys):
            has[n, j] = False
    kept = People(people.ids, people.xy, has, people.score, people.head)
    return kept.keep(np.flatnonzero(has.any(1)))


@dataclass
class FrameMatch:
    """What one frame contributes: per joint the AP entries and the MOT update."""

    ap_scores: list[np.ndarray]   # per joint: scores of the predicted joints
    ap_labels: list[np.ndarray]   # per joint: 1 = true positive
    num_gt: np.ndarray            # int [15]: annotated joints
    mot: list[tuple[list, list, np.ndarray]]  # per joint: (gt ids, pred ids, distances [gt, pred])


def match_frame(gt: People, pr: People, where: str = "") -> FrameMatch:
    """poseval's ``assignGTmulti`` for one frame."""
    num_gt = gt.has.sum(0).astype(np.int64)
    if not len(gt) or not len(pr):
        fake = ([0], [0], np.full((1, 1), np.nan))
        labels = [np.zeros(int(pr.has[:, j].sum()), np.int8) for j in range(NUM_JOINTS)] if not len(gt) \
            else [np.zeros(0, np.int8)] * NUM_JOINTS
        scores = [pr.score[pr.has[:, j], j] for j in range(NUM_JOINTS)] if not len(gt) else [np.zeros(0)] * NUM_JOINTS
        return FrameMatch(scores, labels, num_gt, [fake] * NUM_JOINTS)
    if np.isnan(gt.head).any():
        raise ValueError(f"{where}: a ground-truth person has no 'bbox_head' (the PCKh normaliser)")
    both = pr.has[:, None] & gt.has[None]                                             # [P, G, 15]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.linalg.norm(pr.xy[:, None] - gt.xy[None], axis=-1) / gt.head[None, :, None]
    dist = np.where(both, d, np.inf)
    match = dist <= DIST_THRESHOLD
    n_gt = gt.has.sum(1)
    pck = match.sum(2).astype(np.float64)
    pck[:, n_gt > 0] /= n_gt[n_gt > 0]
    best = np.argmax(pck, axis=1)                                                     # each prediction's GT
    pck = np.where(np.arange(len(gt))[None] == best[:, None], pck, 0.0)
    pr_to_gt = np.argmax(pck, axis=0)
    pr_to_gt[pck.max(axis=0) == 0] = -1
    assigned = np.full(len(pr), -1)
    assigned[pr_to_gt[pr_to_gt >= 0]] = np.flatnonzero(pr_to_gt >= 0)
    scores, labels, mot = [], [], []
    for j in range(NUM_JOINTS):
        rows_pr, rows_gt = np.flatnonzero(pr.has[:, j]), np.flatnonzero(gt.has[:, j])
        ok = assigned[rows_pr] >= 0
        lab = np.zeros(len(rows_pr), np.int8)
        lab[ok] = match[rows_pr[ok], assigned[rows_pr[ok]], j]
        scores.append(pr.score[rows_pr, j])
        labels.append(lab)
        sub = dist[np.ix_(rows_pr, rows_gt)][..., j].T                                 # [gt, pred]
        sub = np.where(match[np.ix_(rows_pr, rows_gt)][..., j].T, sub, np.nan)
        mot.append((gt.ids[rows_gt].tolist(), pr.ids[rows_pr].tolist(), sub))
    return FrameMatch(scores, labels, num_gt, mot)


def prepare_sequence(gt: PoseTrackSequence, pred: PoseTrackSequence, index: int) -> list[FrameMatch]:
    """Clean-up and matching of one sequence: one :class:`FrameMatch` per kept ground-truth frame."""
    if len(pred.frames) != len(gt.frames):
        raise InputError(pred.path, f"{len(pred.frames)} frames in the prediction, {len(gt.frames)} in the "
                                    f"ground truth {gt.path.name} (predictions list the ground truth's images)")
    off = index * MAX_TRACK_ID
    out = []
    for t, (fg, fp) in enumerate(zip(gt.frames, pred.frames)):
        if not fg.people:
            continue
        g = remove_ignored(frame_people(fg.people, off), fg.ignore_regions)
        p = remove_ignored(frame_people(fp.people, off), fg.ignore_regions)
        try:
            out.append(match_frame(g, p, where=f"image {fg.image_id}"))
        except ValueError as exc:
            raise InputError(gt.path, str(exc)) from None
    return out


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC average precision (the precision envelope integrated over recall), poseval's ``VOCap``."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


def average_precision(frames: list[FrameMatch]) -> dict:
    """Per-joint AP, precision and recall (fractions) and the totals (mean over joints)."""
    ap, pre, rec = np.zeros(NUM_JOINTS), np.zeros(NUM_JOINTS), np.zeros(NUM_JOINTS)
    for j in range(NUM_JOINTS):
        scores = np.concatenate([f.ap_scores[j] for f in frames]) if frames else np.zeros(0)
        labels = np.concatenate([f.ap_labels[j] for f in frames]) if frames else np.zeros(0)
        total = sum(int(f.num_gt[j]) for f in frames)
        if not len(scores):
            continue
        order = np.array(scores).argsort()[::-1]   # poseval's ranking, ties included
        tp = np.cumsum(labels[order] == 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = tp / total
        precision = tp / np.arange(1, len(tp) + 1)
        ap[j], pre[j], rec[j] = voc_ap(recall, precision), precision[-1], recall[-1]
    return {"AP": ap, "AP_precision": pre, "AP_recall": rec}


def mot_counts(frames: list[FrameMatch]) -> dict[str, np.ndarray]:
    """Per-joint motmetrics counts of one sequence (its last kept frame left out, as poseval does)."""
    import motmetrics as mm

    accs = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_JOINTS)]
    for f in frames[:-1]:
        for j, (oids, hids, d) in enumerate(f.mot):
            accs[j].update(oids, hids, d)
    mh = mm.metrics.create()
    out = {k: np.zeros(NUM_JOINTS) for k in (*_MOT_COUNTS, "sumD")}
    for j, acc in enumerate(accs):
        m = mh.compute(acc, metrics=list(_MOT_COUNTS), return_dataframe=False, name="acc")
        for k in _MOT_COUNTS:
            out[k][j] = m[k]
        s = acc.mot_events["D"].sum()  # match and switch distances (not motmetrics' RAW pair rows)
        out["sumD"][j] = 0.0 if np.isnan(s) else s
    return out


def _nanmean(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def mot_figures(counts: dict[str, np.ndarray], idf1_sum: np.ndarray, num_seqs: int) -> dict:
    """poseval's final MOT figures per joint (fractions) and their totals."""
    with np.errstate(divide="ignore", invalid="ignore"):
        obj = np.where(counts["num_objects"] > 0, counts["num_objects"], np.nan)
        det, fp = counts["num_detections"], counts["num_false_positives"]
        mota = 1.0 - (counts["num_misses"] + counts["num_switches"] + fp) / obj
        motp = np.where((det == 0) | np.isnan(counts["sumD"]), 0.0, 1.0 - counts["sumD"] / np.where(det == 0, 1, det))
        prec = det / np.where(fp + det > 0, fp + det, np.nan)
        rec = det / obj
        idf1 = idf1_sum / max(num_seqs, 1)
    per_joint = {"MOTA": mota, "MOTP": motp, "Precision": prec, "Recall": rec, "IDF1": idf1,
                 "IDSW": counts["num_switches"]}
    totals = {k: _nanmean(v) for k, v in per_joint.items() if k != "IDSW"}
    totals["IDSW"] = int(np.nansum(counts["num_switches"]))
    return {"per_joint": per_joint, "totals": totals}


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _joint_table(per_joint: dict[str, np.ndarray]) -> dict:
    """Per metric: each joint and poseval's printed groups (Head, Shou, ..., Total)."""
    table = {}
    for k, v in per_joint.items():
        row = {name: _clean(float(x)) for name, x in zip(JOINTS, v)}
        for g, names in GROUPS.items():
            row[g] = _clean(float(np.mean([v[JOINTS.index(n)] for n in names])))
        table[k] = row
    return table


def person_boxes(seq: PoseTrackSequence, id_offset: int = 0) -> np.ndarray:
    """MOTChallenge rows (frame, id, x, y, w, h, conf, class -1, vis -1) of the persons with keypoints."""
    rows = []
    for t, f in enumerate(seq.frames):
        for p in f.people:
            box = keypoint_box(p.keypoints)
            if box is not None and box[2] > 0 and box[3] > 0:
                rows.append([t + 1, p.track_id + id_offset, *box, 1, -1, -1])
    return np.asarray(rows, np.float64).reshape(-1, 9)


def evaluate_sequences(gts: dict[str, PoseTrackSequence], preds: dict[str, PoseTrackSequence]) -> dict:
    """``{"overall", "per_sequence"}`` over paired sequences (a missing prediction is an ``InputError``)."""
    from unitrack.metrics.mot import evaluate_arrays

    names = sorted(gts)
    all_frames, per_seq, idf1_sum = [], {}, np.zeros(NUM_JOINTS)
    summed = {k: np.zeros(NUM_JOINTS) for k in (*_MOT_COUNTS, "sumD")}
    for i, name in enumerate(names):
        frames = prepare_sequence(gts[name], preds[name], i)
        all_frames += frames
        counts = mot_counts(frames)
        for k in summed:
            summed[k] += counts[k]
        idf1_sum += counts["idf1"]
        seq_mot = mot_figures(counts, counts["idf1"], 1)["totals"]
        seq_ap = average_precision(frames)
        per_seq[name] = {**{k: _clean(v) for k, v in seq_mot.items()}, "mAP": _clean(float(seq_ap["AP"].mean())),
                         "frames": len(gts[name].frames), "scored_frames": len(frames)}
    mot = mot_figures(summed, idf1_sum, len(names))
    ap = average_precision(all_frames)
    persons = evaluate_arrays({n: person_boxes(gts[n]) for n in names}, {n: person_boxes(preds[n]) for n in names},
                              {n: len(gts[n].frames) for n in names}, benchmark="MOT15")  # every person a pedestrian, no classes
    for n in names:
        per_seq[n]["IDF1_person"] = persons["per_sequence"][n]["IDF1"]
        per_seq[n]["HOTA_person"] = persons["per_sequence"][n]["HOTA"]
    overall = {**{k: _clean(v) for k, v in mot["totals"].items()}, "mAP": _clean(float(ap["AP"].mean())),
               "IDF1_person": persons["overall"]["IDF1"], "HOTA_person": persons["overall"]["HOTA"],
               "joints": _joint_table({**mot["per_joint"], "AP": ap["AP"]})}
    return {"overall": overall, "per_sequence": per_seq}


def evaluate(gt_root, pred_dir, sequences=None, split: str | None = None) -> dict:
    """Score ``pred_dir/<seq>.json`` against ``gt_root/annotations/<split>/<seq>.json``."""
    gts = load_split(gt_root, split, sequences)
    preds = {}
    for name, g in gts.items():
        path = Path(pred_dir) / f"{name}.json"
        if not path.is_file():
            raise InputError(path, "missing prediction file (poseval needs one per ground-truth sequence)")
        preds[name] = load_sequence(path, g.root)
    return evaluate_sequences(gts, preds)
