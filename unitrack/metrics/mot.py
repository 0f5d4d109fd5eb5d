"""Multi-object tracking: CLEAR MOT, Identity and HOTA in one TrackEval pass, MOTChallenge rules.

Everything that decides a figure is TrackEval's own code (the evaluator of the MOTChallenge server):

1. per frame, ``MotChallenge2DBox._calculate_similarities`` (box IoU) between all ground truth and all
   predictions;
2. ``MotChallenge2DBox.get_preprocessed_seq_data`` with the sequence's benchmark: for MOT16/17/20,
   predictions matched (Hungarian, IoU >= 0.5) to a distractor (2 person on vehicle, 7 static person,
   8 distractor, 12 reflection; 6 non-MOT vehicle too for MOT20) are removed and ground truth is kept
   only where ``int(conf) != 0`` and ``class == 1``; MOT15 has no classes: only ``conf`` is applied;
3. ``CLEAR``, ``Identity`` and ``HOTA`` ``eval_sequence`` on that one preprocessed sequence, and their
   ``combine_sequences`` for the overall row.

What this module does itself is what TrackEval's file reader does badly: files are read by
:mod:`unitrack.data.mot` (one error line naming file:line for a NaN, a frame outside ``seqLength``, an
unknown class, a repeated id), the benchmark comes from :func:`unitrack.data.mot.sequence_benchmark`
(MOT15's ``gt.txt`` carries world coordinates where MOT16/17 carry class and visibility), and a
missing prediction file is scored as an empty one (one warning line; TrackEval refuses to run), as
TrackEval scores an empty file. With no ground truth TrackEval takes a zero denominator as 1, so
MOTA = -FP and IDF1 = 0 there; MOTA is < 0 when errors exceed the ground truth, so it is the one key
not confined to [0, 1].

motmetrics is not used for any figure: its CLEAR counts differ from TrackEval's on real MOT17
(IDSW 256 vs 259 over the 7 train sequences of a published tracker) and its event log doubled the
time. It remains a test dependency for the real MOT15 files it ships (TUD-Stadtmitte, TUD-Campus).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from videossl.errors import InputError

MOTCHALLENGE_CLASSES = tuple(range(1, 14))  # TrackEval's class_name_to_class_id values
_FIGURES = ("MOTA", "IDF1", "HOTA", "IDSW", "FP", "FN")


@functools.lru_cache(maxsize=None)
def _dataset(benchmark: str):
    """TrackEval's ``MotChallenge2DBox`` configured for ``benchmark``, used for its similarity and preprocessing.

    Its constructor insists that one ground-truth file exists for the sequences it is told about; the
    object is never asked to read files (this module feeds it parsed rows), so it is pointed at its own
    module file to satisfy the check.
    """
    from trackeval.datasets import MotChallenge2DBox
    from trackeval.datasets import mot_challenge_2d_box as module

    here = str(Path(module.__file__).resolve()).replace("{", "{{").replace("}", "}}")
    return MotChallenge2DBox({"BENCHMARK": benchmark, "GT_LOC_FORMAT": here, "SKIP_SPLIT_FOL": True,
                              "SEQ_INFO": {"_": 1}, "TRACKERS_TO_EVAL": [], "PRINT_CONFIG": False})


def _metrics():
    from trackeval.metrics import CLEAR, HOTA, Identity

    cfg = {"PRINT_CONFIG": False}
    return {"CLEAR": CLEAR(cfg), "Identity": Identity(cfg), "HOTA": HOTA(cfg)}


def _by_frame(rows: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """Split rows into a list indexed by frame - 1, keeping the file's order within a frame (as TrackEval)."""
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    cuts = np.searchsorted(rows[:, 0], np.arange(1, num_frames + 2), side="left")
    return [rows[cuts[t]:cuts[t + 1]] for t in range(num_frames)]


def _as_rows(a, width: int) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.reshape(-1, a.shape[-1] if a.size else width)


def raw_sequence(seq: str, gt, pred, num_frames: int | None = None, benchmark: str = "MOT17") -> dict:
    """TrackEval's raw data of one sequence (what ``get_raw_seq_data`` returns) from row arrays.

    ``gt`` rows ``frame, id, x, y, w, h, conf, class, visibility`` (1-based frames; for MOT15 ``class``
    is ignored), ``pred`` rows ``frame, id, x, y, w, h[, score, ...]``.
    """
    gt, pred = _as_rows(gt, 9), _as_rows(pred, 6)
    if num_frames is None:
        num_frames = int(max(gt[:, 0].max(initial=0), pred[:, 0].max(initial=0)))
    ds = _dataset(benchmark)
    raw = {k: [] for k in ("gt_ids", "gt_classes", "gt_dets", "gt_crowd_ignore_regions", "gt_extras", "tracker_ids",
                           "tracker_classes", "tracker_dets", "tracker_confidences", "similarity_scores")}
    for g, p in zip(_by_frame(gt, num_frames), _by_frame(pred, num_frames)):
        raw["gt_ids"].append(g[:, 1].astype(int))
        raw["gt_classes"].append(g[:, 7].astype(int) if g.shape[1] > 7 else np.full(len(g), -1))
        raw["gt_dets"].append(g[:, 2:6])
        raw["gt_crowd_ignore_regions"].append(np.empty((0, 4)))
        raw["gt_extras"].append({"zero_marked": (g[:, 6] if g.shape[1] > 6 else np.ones(len(g))).astype(int)})
        raw["tracker_ids"].append(p[:, 1].astype(int))
        raw["tracker_classes"].append(np.ones(len(p), int))  # pedestrians (checked on reading)
        raw["tracker_dets"].append(p[:, 2:6])
        raw["tracker_confidences"].append(p[:, 6] if p.shape[1] > 6 else np.ones(len(p)))
        raw["similarity_scores"].append(ds._calculate_similarities(g[:, 2:6], p[:, 2:6]))
    raw.update(num_timesteps=num_frames, seq=seq)
    return raw


def mot_sequence(gt, pred, num_frames: int | None = None, benchmark: str = "MOT17", seq: str = "seq") -> tuple[dict, dict]:
    """Figures and TrackEval's raw ``{"CLEAR", "Identity", "HOTA"}`` results of one sequence.

    Raises ``ValueError`` (TrackEval's message) for a repeated id within a frame or an unknown class.
    """
    from trackeval.utils import TrackEvalException

    raw = raw_sequence(seq, gt, pred, num_frames, benchmark)
    try:
        data = _dataset(benchmark).get_preprocessed_seq_data(raw, "pedestrian")
    except TrackEvalException as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    res = {name: m.eval_sequence(data) for name, m in _metrics().items()}
    return _figures(res), res


def _figures(res: dict) -> dict:
    clear, ident, hota = res["CLEAR"], res["Identity"], res["HOTA"]
    return {"MOTA": float(clear["MOTA"]), "IDF1": float(ident["IDF1"]), "HOTA": float(np.mean(hota["HOTA"])),
            "IDSW": int(clear["IDSW"]), "FP": int(clear["CLR_FP"]), "FN": int(clear["CLR_FN"])}


def combine(parts: dict[str, dict]) -> dict:
    """Overall figures from per-sequence TrackEval results, by each metric's ``combine_sequences``."""
    if not parts:
        return {k: 0 if k in ("IDSW", "FP", "FN") else 0.0 for k in _FIGURES}
    return _figures({name: m.combine_sequences({s: r[name] for s, r in parts.items()})
                     for name, m in _metrics().items()})


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray], num_frames: dict[str, int] | None = None,
                    benchmark: str = "MOT17") -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: rows}``; a sequence absent from ``pred`` has no predictions."""
    parts, figs = {}, {}
    for seq, g in gt.items():
        n = (num_frames or {}).get(seq)
        figs[seq], parts[seq] = mot_sequence(g, pred.get(seq, np.zeros((0, 6))), n, benchmark, seq)
    return {"overall": combine(parts), "per_sequence": figs}


def _rows(r) -> np.ndarray:
    """:class:`unitrack.data.mot.MOTRows` (0-based) back to 1-based-frame row arrays for :func:`raw_sequence`."""
    return np.column_stack([r.frame + 1, r.ids, r.boxes, r.conf, r.cls, r.vis]).astype(np.float64)


def _check_classes(gt, gt_path: Path, pred, pred_path: Path | None, benchmark: str) -> None:
    """MOT16/17/20 rules need MOTChallenge classes in gt.txt and pedestrians in the results (TrackEval refuses others)."""
    if benchmark == "MOT15":
        return
    bad = ~np.isin(gt.cls, MOTCHALLENGE_CLASSES)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(gt_path, f"class {gt.cls[k]} in column 8 is not a MOTChallenge class (1-13) under {benchmark} "
                                  "rules (MOT15 ground truth has world coordinates there: name the dataset folder MOT15)",
                         line=int(gt.line[k]))
    bad = pred.cls > 1
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(pred_path, f"class {pred.cls[k]} in column 8: MOTChallenge scores pedestrians only "
                                    "(class 1, or -1 for none)", line=int(pred.line[k]))


def _check_unique_ids(rows, path: Path) -> None:
    """A track id twice in one frame is an error naming both lines (TrackEval's message names neither)."""
    if len(rows) < 2:
        return
    order = np.lexsort((rows.ids, rows.frame))
    f, i = rows.frame[order], rows.ids[order]
    same = np.flatnonzero((f[1:] == f[:-1]) & (i[1:] == i[:-1]))
    if len(same):
        a, b = sorted((int(rows.line[order[same[0]]]), int(rows.line[order[same[0] + 1]])))
        raise InputError(path, f"id {i[same[0]]} appears twice in frame {f[same[0]] + 1} (also on line {a})", line=b)


def evaluate(gt_root, pred_dir, sequences=None, split: str = "train", benchmark: str | None = None) -> dict:
    """Score ``pred_dir/<SEQ>.txt`` against the MOTChallenge layout ``gt_root/<split>/<SEQ>/{gt/gt.txt, seqinfo.ini}``.

    Read with :mod:`unitrack.data.mot` (frames must lie in ``1..seqLength``); images are not needed.
    ``benchmark`` (MOT15/16/17/20) overrides :func:`unitrack.data.mot.sequence_benchmark`.
    """
    from unitrack.data import mot as motdata
    from unitrack.metrics._files import prediction_file

    if benchmark is not None and benchmark not in motdata.BENCHMARKS:
        raise ValueError(f"unknown MOTChallenge benchmark {benchmark!r}; expected one of {', '.join(motdata.BENCHMARKS)}")
    names = list(sequences) if sequences is not None else motdata.list_sequences(gt_root, split)
    parts, figs = {}, {}
    for name in names:
        seq_dir = Path(gt_root) / split / name
        n = int(motdata.read_seqinfo(seq_dir / "seqinfo.ini")["seqLength"])
        gt_path = seq_dir / "gt" / "gt.txt"
        bench = benchmark or motdata.sequence_benchmark(gt_root, name, gt_path)
        gt = motdata.read_mot_txt(gt_path, n, bench)
        path = prediction_file(pred_dir, f"{name}.txt")
        pred = motdata.read_mot_txt(path, n, bench) if path is not None else motdata.MOTRows.empty()
        _check_classes(gt, gt_path, pred, path, bench)
        _check_unique_ids(gt, gt_path)
        _check_unique_ids(pred, path)
        try:
            figs[name], parts[name] = mot_sequence(_rows(gt), _rows(pred), n, bench, name)
        except ValueError as exc:
            raise InputError(path if str(exc).startswith("Tracker") else gt_path, str(exc)) from None
    return {"overall": combine(parts), "per_sequence": figs}
