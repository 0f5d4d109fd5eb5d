"""Single-object tracking sequences: OTB-2015 as published, and VOT sequences, in one reader.

**OTB-2015**: ``ROOT/<Folder>/img/0001.jpg`` and ``ROOT/<Folder>/groundtruth_rect.txt``. Boxes are
``x, y, w, h`` with OTB's 1-based pixel coordinates on disk, separated by commas, tabs or spaces (mixed
within a file, as some OTB files are). In memory they are **0-based** (``x - 1, y - 1``): the top-left
pixel is (0, 0), as in NumPy/OpenCV, so a box indexes ``frame[y:y+h, x:x+w]`` directly. Writers add the
1 back.

OTB's irregular sequences are read from :data:`OTB100`, the sequence table of the official toolkit
(``configSeqs100.m`` of OTB's tracker_benchmark v1.1: name, folder, first and last frame, digits of the
image names, annotation file), as reproduced in pytracking's ``otbdataset.py`` and matching
``jwlim/tracker_benchmark``'s ``MakeSequenceConfigVer1{0,1}.m`` and the VOT toolkit's ``vot/dataset/otb.py``.
It gives the annotated frame range where it is not the whole folder (David 300–770 of 770 images,
Football1 1–74 of 81, Freeman3 1–460 of 474, Freeman4 1–283 of 297, Diving 1–215), folders whose images
start later (BlurCar1 0247.jpg–0988.jpg, BlurCar3 from 0003, BlurCar4 from 0018), Board's 5-digit names,
and the two-target folders as the official names: ``Jogging-1`` / ``Jogging-2``, ``Skating2-1`` /
``Skating2-2`` (``groundtruth_rect.1.txt`` / ``.2.txt``) and ``Human4-2`` (only target 2 of Human4 is in
OTB-100). ``Jogging.1`` and ``Jogging_1`` (jwlim's, pytracking's spelling) are read as ``Jogging-1``. A
folder not in the table (your own sequences, the synthetic benchmark) is annotated from its first image,
one box a line. (pytracking also skips Tiger1's first 5 frames, its ``initOmit``; the OTB toolkit keeps
those for its TRE/SRE start frames only, so OPE here starts at frame 1, as GOT-10k and the VOT toolkit do.)

**VOT**: ``ROOT/<seq>/groundtruth.txt`` with the images in ``ROOT/<seq>/color/`` (VOT toolkit >= 2020) or
in ``ROOT/<seq>/`` itself (older releases). Lines are 4-value rectangles or polygons of 8 (or more, an
even number) values ``x1,y1,x2,y2,...`` in VOT's 0-based coordinates (no shift on read). A polygon
becomes an axis-aligned box the way the VOT toolkit converts a region to a rectangle
(``vot.region.shapes.Polygon`` -> ``Rectangle``: min/max of the points, ``w = max_x - min_x``); pysot's
and GOT-10k's area-preserving box (``get_axis_aligned_bbox`` / ``_corners2rect``: centre of the points,
the bounds scaled to the polygon's area, + 1) is :func:`polygon_to_box` ``(mode="area")``.

Irregularities are named, not silently absorbed: ground truth shorter than the frames (where the table
does not explain it) is one warning line saying how many frames are left unscored; more rows than the
table's range, one warning and the rows past it dropped; NaN rows (target absent / not annotated) one
warning line naming the first ``file:line`` and the count — they are scored as the OTB toolkit scores
invalid ground truth (see :mod:`unitrack.metrics.sot`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, expect_frames, list_images, parse_numbers, read_lines, warn
from videossl.errors import InputError

GT_FILE = "groundtruth_rect.txt"
VOT_GT_FILE = "groundtruth.txt"

# The OTB-100 sequence table (OTB toolkit configSeqs100.m): name, folder, first and last 1-based frame,
# digits of the image names, annotation file when it is not groundtruth_rect.txt.
_OTB100_TABLE = """
Basketball 1 725|Biker 1 142|Bird1 1 408|Bird2 1 99|BlurBody 1 334|BlurCar1 247 988|BlurCar2 1 585
BlurCar3 3 359|BlurCar4 18 397|BlurFace 1 493|BlurOwl 1 631|Board 1 698 5|Bolt 1 350|Bolt2 1 293
Box 1 1161|Boy 1 602|Car1 1 1020|Car2 1 913|Car24 1 3059|Car4 1 659|CarDark 1 393|CarScale 1 252
ClifBar 1 472|Coke 1 291|Couple 1 140|Coupon 1 327|Crossing 1 120|Crowds 1 347|Dancer 1 225|Dancer2 1 150
David 300 770|David2 1 537|David3 1 252|Deer 1 71|Diving 1 215|Dog 1 127|Dog1 1 1350|Doll 1 3872
DragonBaby 1 113|Dudek 1 1145|FaceOcc1 1 892|FaceOcc2 1 812|Fish 1 476|FleetFace 1 707|Football 1 362
Football1 1 74|Freeman1 1 326|Freeman3 1 460|Freeman4 1 283|Girl 1 500|Girl2 1 1500|Gym 1 767
Human2 1 1128|Human3 1 1698|Human4-2 1 667 4 Human4 groundtruth_rect.2.txt|Human5 1 713|Human6 1 792
Human7 1 250|Human8 1 128|Human9 1 305|Ironman 1 166
Jogging-1 1 307 4 Jogging groundtruth_rect.1.txt|Jogging-2 1 307 4 Jogging groundtruth_rect.2.txt
Jump 1 122|Jumping 1 313|KiteSurf 1 84|Lemming 1 1336|Liquor 1 1741|Man 1 134|Matrix 1 100|Mhyang 1 1490
MotorRolling 1 164|MountainBike 1 228|Panda 1 1000|RedTeam 1 1918|Rubik 1 1997|Shaking 1 365
Singer1 1 351|Singer2 1 366|Skater 1 160|Skater2 1 435|Skating1 1 400
Skating2-1 1 473 4 Skating2 groundtruth_rect.1.txt|Skating2-2 1 473 4 Skating2 groundtruth_rect.2.txt
Skiing 1 81|Soccer 1 392|Subway 1 175|Surfer 1 376|Suv 1 945|Sylvester 1 1345|Tiger1 1 354|Tiger2 1 365
Toy 1 271|Trans 1 124|Trellis 1 569|Twinnings 1 472|Vase 1 271|Walking 1 412|Walking2 1 500|Woman 1 597
"""


@dataclass(frozen=True)
class OTBEntry:
    """One row of the OTB-100 table: ``frames first..last`` (1-based, inclusive) of ``folder/img``."""

    name: str
    folder: str
    first: int
    last: int
    digits: int = 4
    gt_file: str = GT_FILE


def _parse_table(text: str) -> dict[str, OTBEntry]:
    table = {}
    for row in (r.split() for line in text.strip().splitlines() for r in line.split("|")):
        name, first, last, *rest = row
        digits = int(rest[0]) if rest else 4
        folder = rest[1] if len(rest) > 1 else name
        gt_file = rest[2] if len(rest) > 2 else GT_FILE
        table[name] = OTBEntry(name, folder, int(first), int(last), digits, gt_file)
    return table


OTB100: dict[str, OTBEntry] = _parse_table(_OTB100_TABLE)
_BY_FOLDER: dict[str, list[OTBEntry]] = {}
for _e in OTB100.values():
    _BY_FOLDER.setdefault(_e.folder, []).append(_e)


@dataclass
class OTBSequence(LazyFrames):
    """One target: ``frames[t]`` is annotated by ``boxes[t]`` (float ``[T, 4]``, 0-based xywh)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    boxes: np.ndarray
    gt_path: Path

    @property
    def init_box(self) -> np.ndarray:
        return self.boxes[0]


def polygon_to_box(points: np.ndarray, mode: str = "bounds") -> np.ndarray:
    """``[N, 2k]`` polygons (``x1, y1, x2, y2, ...``) -> ``[N, 4]`` axis-aligned ``x, y, w, h``.

    ``mode="bounds"``: the VOT toolkit's rectangle of a polygon (min/max of the points).
    ``mode="area"``: pysot's ``get_axis_aligned_bbox`` / GOT-10k's ``_corners2rect`` (4-point polygons):
    centred on the mean of the points, the bounds scaled by ``sqrt(polygon area / bounds area)``, + 1 px.
    """
    p = np.asarray(points, np.float64)
    p = p.reshape(len(p), -1)
    xs, ys = p[:, 0::2], p[:, 1::2]
    x1, x2, y1, y2 = xs.min(1), xs.max(1), ys.min(1), ys.max(1)
    if mode == "bounds":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    if mode != "area":
        raise ValueError(f"polygon mode must be 'bounds' or 'area', got {mode!r}")
    if p.shape[1] != 8:
        raise ValueError("the 'area' conversion is defined for 4-point polygons")
    cx, cy = xs.mean(1), ys.mean(1)
    a1 = np.linalg.norm(p[:, 0:2] - p[:, 2:4], axis=1) * np.linalg.norm(p[:, 2:4] - p[:, 4:6], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(a1 / ((x2 - x1) * (y2 - y1)))
    w, h = s * (x2 - x1) + 1, s * (y2 - y1) + 1
    return np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)


def read_boxes(path: str | os.PathLike, one_based: bool = True, polygons: bool = False,
               what: str = "box file") -> np.ndarray:
    """A box file (ground truth or prediction) as float ``[T, 4]`` 0-based xywh.

    ``one_based``: OTB files (subtract 1 from x, y); VOT files are 0-based. ``polygons``: a line may also be
    an even number (>= 6) of polygon coordinates, converted with :func:`polygon_to_box`. Blank lines are
    skipped; a malformed line is an ``InputError`` naming ``file:line``.
    """
    path = Path(path)
    rows = []
    for i, line in enumerate(read_lines(path, what), 1):
        if not line.strip():
            continue
        if polygons and line.lstrip()[:1] == "m":
            raise InputError(path, "VOT mask regions are not supported (need rectangles or polygons)", line=i)
        vals = parse_numbers(line, path, i, 4, None if polygons else 4)
        if len(vals) != 4:
            if len(vals) < 6 or len(vals) % 2:
                raise InputError(path, f"expected 4 numbers or an even number >= 6 (a polygon), got {len(vals)}: "
                                       f"{line.strip()!r}", line=i)
            vals = polygon_to_box(np.asarray([vals]))[0].tolist()
        rows.append(vals)
    if not rows:
        raise InputError(path, "no boxes in file")
    boxes = np.asarray(rows, dtype=np.float64)
    if one_based:
        boxes[:, :2] -= 1.0
    return boxes


def _warn_nan_rows(path: Path, boxes: np.ndarray) -> None:
    """One warning line for ground-truth rows with NaN, naming the first one's line (1-based, blank lines
    counted as the file has them)."""
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if not bad.size:
        return
    rows = [i for i, line in enumerate(read_lines(path), 1) if line.strip()]
    more = f" ({bad.size} such rows)" if bad.size > 1 else ""
    warn(path, f"ground-truth row is NaN{more}: scored as the OTB toolkit scores invalid ground truth "
               "(a failure on the success plot, a hit on the precision plot)", line=rows[bad[0]])


def canonical_name(name: str) -> str:
    """The OTB-100 name of a target: ``Jogging.1`` / ``Jogging_1`` -> ``Jogging-1`` (others unchanged)."""
    for sep in (".", "_"):
        base, s, target = name.rpartition(sep)
        if s and target.isdigit() and f"{base}-{target}" in OTB100:
            return f"{base}-{target}"
    return name


def _vot_images(seq_dir: Path) -> Path | None:
    if (seq_dir / VOT_GT_FILE).is_file():
        return seq_dir / "color" if (seq_dir / "color").is_dir() else seq_dir
    return None


def _targets(seq_dir: Path) -> list[str]:
    if seq_dir.name in _BY_FOLDER and (seq_dir / "img").is_dir():
        return [e.name for e in _BY_FOLDER[seq_dir.name] if (seq_dir / e.gt_file).is_file()]
    if (seq_dir / "img").is_dir():
        if (seq_dir / GT_FILE).is_file():
            return [seq_dir.name]
        multi = sorted(seq_dir.glob("groundtruth_rect.*.txt"))
        return [f"{seq_dir.name}-{p.name.split('.')[1]}" for p in multi if p.name.split(".")[1].isdigit()]
    return [seq_dir.name] if _vot_images(seq_dir) is not None else []


def _is_sequence_folder(root: Path) -> bool:
    """``root`` is itself one OTB sequence (``img/`` next to its annotation), as a single-sequence download is."""
    return (root / "img").is_dir() and any(root.glob("groundtruth_rect*.txt"))


def list_sequences(root: str | os.PathLike) -> list[str]:
    """Names of the targets under ``root`` (sorted by folder): OTB (``<Seq>/img``) and VOT (``groundtruth.txt``).

    A ``root`` that is itself one OTB sequence folder lists that sequence (its targets)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "missing OTB root folder")
    if _is_sequence_folder(root):
        return _targets(root)
    names = [n for d in sorted(root.iterdir()) if d.is_dir() for n in _targets(d)]
    if not names:
        raise InputError(root, f"no OTB sequences (<Seq>/img + {GT_FILE}) or VOT sequences (<seq>/{VOT_GT_FILE}) "
                               "under this folder")
    return names


def _entry(root: Path, name: str) -> OTBEntry | None:
    """The table row of ``name``, or for a folder not in the table the row its files imply (None if VOT)."""
    name = canonical_name(name)
    if _is_sequence_folder(root):  # root is the sequence's own folder
        base, sep, target = name.rpartition("-")
        if name in OTB100 and OTB100[name].folder == root.name:
            return dataclasses.replace(OTB100[name], folder=".")
        if name == root.name:
            return OTBEntry(name, ".", 0, 0)
        if sep and base == root.name and target.isdigit():
            return OTBEntry(name, ".", 0, 0, gt_file=f"groundtruth_rect.{target}.txt")
        return None
    if name in OTB100:
        return OTB100[name]
    if (root / name / "img").is_dir():
        return OTBEntry(name, name, 0, 0)
    base, sep, target = name.rpartition("-")
    if sep and target.isdigit() and (root / base / "img").is_dir():
        return OTBEntry(name, base, 0, 0, gt_file=f"groundtruth_rect.{target}.txt")
    return None


def load_sequence(root: str | os.PathLike, name: str) -> OTBSequence:
    """Read one target's boxes and check that every annotated frame exists (OTB or VOT layout)."""
    root = Path(root)
    entry = _entry(root, name)
    if entry is None:
        vot = _vot_images(root / name)
        if vot is None:
            raise InputError(root / name, f"not an OTB sequence (img/ + {GT_FILE}) nor a VOT one ({VOT_GT_FILE})")
        return _load_vot(root / name, vot)
    seq_dir = root / entry.folder
    gt_path = seq_dir / entry.gt_file
    boxes = read_boxes(gt_path)
    img_dir = seq_dir / "img"
    images = list_images(img_dir)
    ext = images[0].suffix
    if entry.last:  # from the official table
        first, n = entry.first, entry.last - entry.first + 1
        if len(boxes) > n:
            warn(gt_path, f"{len(boxes)} boxes but the OTB-100 table annotates frames {entry.first}-{entry.last} "
                          f"({n}); the rows past it are not used")
        elif len(boxes) < n:
            warn(gt_path, f"{len(boxes)} boxes for the {n} frames {entry.first}-{entry.last} of the OTB-100 table; "
                          f"frames {entry.first + len(boxes)}-{entry.last} are not scored")
        n = min(n, len(boxes))
        digits = entry.digits
    else:
        stem = images[0].stem
        first, digits = (int(stem), len(stem)) if stem.isdigit() else (1, 4)
        n = len(boxes)
        after = sum(1 for p in images if p.stem.isdigit() and int(p.stem) >= first + n)
        if after:
            warn(gt_path, f"{n} boxes for {n + after} frames in {img_dir}; the last {after} frames are not scored")
    frames = expect_frames(img_dir, [f"{k:0{digits}d}{ext}" for k in range(first, first + n)])
    boxes = boxes[:n]
    _warn_nan_rows(gt_path, boxes)
    return OTBSequence(name=entry.name, frame_dir=img_dir, frames=frames, boxes=boxes, gt_path=gt_path)


def _load_vot(seq_dir: Path, img_dir: Path) -> OTBSequence:
    gt_path = seq_dir / VOT_GT_FILE
    boxes = read_boxes(gt_path, one_based=False, polygons=True)
    images = list_images(img_dir)
    if len(images) < len(boxes):
        raise InputError(img_dir, f"{len(images)} frames but {gt_path.name} has {len(boxes)} regions")
    if len(images) > len(boxes):
        warn(gt_path, f"{len(boxes)} regions for {len(images)} frames in {img_dir}; "
                      f"the last {len(images) - len(boxes)} frames are not scored")
    _warn_nan_rows(gt_path, boxes)
    return OTBSequence(name=seq_dir.name, frame_dir=img_dir, frames=images[:len(boxes)], boxes=boxes, gt_path=gt_path)
