"""One reader for video files and frame folders, with random access and bounded memory.

``open_video(path)`` returns a :class:`VideoReader` whatever the source is:

* a video file, decoded by decord (fast, frame-accurate seeking, ffmpeg's own
  threads) or, when decord is not installed or cannot open the file's codec,
  by OpenCV;
* a folder of ``.jpg``/``.png`` frames in sorted order (the datasets' ``img1/``,
  ``JPEGImages/480p/<seq>/`` and ``Rename_Images/`` layouts).

Frames are only decoded when asked for through ``get_batch(indices)``; nothing
keeps decoded frames around, so memory does not grow with the video's length.
A reader is not thread-safe (neither decoder is); :meth:`VideoReader.clone`
opens an independent handle on the same source for another thread.

Every problem with the input (missing, empty, truncated, not a video, empty
folder, a frame that cannot be decoded) is an :class:`~videossl.errors.InputError`
whose one-line message names the file and says what is wrong.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

from videossl.errors import InputError
from videossl.utils.outputs import display_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp")
_ISO_BMFF = (".mp4", ".mov", ".m4v", ".3gp")  # files whose box structure we can check for truncation
_FIRST_BOXES = ("ftyp", "moov", "mdat", "free", "wide", "skip", "pnot", "styp", "uuid")


class VideoReader:
    """Common interface: ``len(r)``, ``r.fps``, ``r.height``, ``r.width``, ``r.path``, ``r.get_batch(indices)``."""

    backend = "base"

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.fps: float = 0.0
        self.height: int = 0
        self.width: int = 0
        self._len: int = 0

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.path!r}, frames={len(self)}, fps={self.fps:.3g}, "
                f"size={self.height}x{self.width})")

    def _check_indices(self, indices: Sequence[int]) -> list[int]:
        idx = [int(i) for i in indices]
        n = len(self)
        for i in idx:
            if not 0 <= i < n:
                raise IndexError(f"{self.path}: frame index {i} out of range for {n} frames")
        return idx

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as ``uint8 [N,H,W,3]`` RGB."""
        raise NotImplementedError

    def clone(self) -> "VideoReader":
        """An independent handle on the same source (for use from another thread)."""
        return type(self)(self.path)

    def close(self) -> None:
        """Release the decoder; the reader must not be used afterwards."""

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DecordReader(VideoReader):
    """decord-backed reader: exact seeking, batched decoding of sorted indices."""

    backend = "decord"

    def __init__(self, path: str | os.PathLike, num_threads: int = 0):
        super().__init__(path)
        import decord

        decord.logging.set_level(decord.logging.QUIET)
        self._num_threads = num_threads
        try:
            self._vr = decord.VideoReader(decoder_path(self.path), ctx=decord.cpu(0), num_threads=num_threads)
        except Exception as exc:  # decord raises a bare RuntimeError/DECORDError for everything
            raise _BackendError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
        self._len = len(self._vr)
        if self._len == 0:
            raise _BackendError("no frames")
        self.fps = float(self._vr.get_avg_fps() or 0.0)
        self.height, self.width = (int(s) for s in self._vr[0].shape[:2])
        self._vr.seek(0)

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check_indices(indices)
        if not idx:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        # decord decodes forward from the previous key frame; asking in sorted order
        # avoids re-seeking for every out-of-order index.
        order = np.argsort(idx, kind="stable")
        uniq, inverse = np.unique(np.asarray(idx)[order], return_inverse=True)
        try:
            frames = self._vr.get_batch(uniq.tolist()).asnumpy()
        except Exception as exc:
            raise InputError(display_path(self.path), f"cannot decode frames {uniq[0]}..{uniq[-1]} (file corrupt or truncated?): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        out = np.empty((len(idx), *frames.shape[1:]), np.uint8)
        out[order] = frames[inverse]
        return out

    def clone(self) -> "DecordReader":
        return DecordReader(self.path, self._num_threads)

    def close(self) -> None:
        self._vr = None


class OpenCVReader(VideoReader):
    """OpenCV-backed reader; reads forward when it can, seeks only on jumps (seeking is slow and coarse)."""

    backend = "opencv"
    _MAX_SKIP = 64  # grab() forward rather than seek when the next frame is this close

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        import cv2

        self._cv2 = cv2
        self._cap = cv2.VideoCapture(decoder_path(self.path))
        if not self._cap.isOpened():
            raise _BackendError("OpenCV could not open it")
        self._len = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if self._len <= 0:
            raise _BackendError("no frames")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._pos = 0  # index of the frame the next read() returns

    def _read_at(self, i: int) -> np.ndarray:
        cv2 = self._cv2
        if i < self._pos or i - self._pos > self._MAX_SKIP:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            self._pos = i
        while self._pos < i:
            if not self._cap.grab():
                break
            self._pos += 1
        ok, frame = self._cap.read() if self._pos == i else (False, None)
        if not ok or frame is None:
            self._pos = -1  # unknown position: force a seek next time
            raise InputError(display_path(self.path), f"cannot decode frame {i} of {len(self)} (file corrupt or truncated?)")
        self._pos = i + 1
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check_indices(indices)
        out = np.empty((len(idx), self.height, self.width, 3), np.uint8)
        cache: dict[int, int] = {}
        for j in sorted(range(len(idx)), key=lambda k: idx[k]):
            i = idx[j]
            if i in cache:
                out[j] = out[cache[i]]
                continue
            out[j] = self._read_at(i)
            cache[i] = j
        return out

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FrameFolderReader(VideoReader):
    """A folder of image files, one per frame, in sorted (natural) order."""

    backend = "frames"

    def __init__(self, path: str | os.PathLike, fps: float = 30.0):
        super().__init__(path)
        import cv2

        self._cv2 = cv2
        self.files = list_frame_files(self.path)
        if not self.files:
            raise InputError(display_path(self.path), f"folder holds no frames ({'/'.join(IMAGE_EXTENSIONS)} files)")
        self._len = len(self.files)
        self.fps = float(fps)  # folders carry no frame rate; 30 is the common default (OTB, DAVIS, MOT17 vary)
        first = self._imread(0)
        self.height, self.width = first.shape[:2]

    def _imread(self, i: int) -> np.ndarray:
        f = self.files[i]
        # bytes read by Python, decoded by OpenCV from memory: no file name ever reaches OpenCV (a name
        # that is not UTF-8 crashes its path conversion with a segfault)
        try:
            data = np.fromfile(f, dtype=np.uint8)
        except OSError as exc:
            raise InputError(display_path(f), f"cannot read: {exc.strerror or exc}") from None
        img = self._cv2.imdecode(data, self._cv2.IMREAD_COLOR) if data.size else None
        if img is not None:
            return self._cv2.cvtColor(img, self._cv2.COLOR_BGR2RGB)
        # OpenCV's imread has failed intermittently on valid PNGs inside a long training run ("libpng
        # error: bad parameters to zlib"; not reproduced alone); Pillow gets a second look before a
        # frame is declared corrupt.
        from PIL import Image

        try:
            with Image.open(f) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, ValueError):
            problem = "empty file" if os.path.getsize(f) == 0 else "cannot decode image (corrupt or not an image)"
            raise InputError(display_path(f), problem) from None

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check_indices(indices)
        out = np.empty((len(idx), self.height, self.width, 3), np.uint8)
        for j, i in enumerate(idx):
            img = self._imread(i)
            if img.shape[:2] != (self.height, self.width):
                raise InputError(display_path(self.files[i]), f"frame size {img.shape[1]}x{img.shape[0]} differs from the "
                                 f"first frame's {self.width}x{self.height}")
            out[j] = img
        return out

    def clone(self) -> "FrameFolderReader":
        return FrameFolderReader(self.path, self.fps)


_ascii_links: dict[str, str] = {}


def decoder_path(path: str) -> str:
    """``path`` if it is valid UTF-8, else an ASCII-named symlink to it (made once per process).

    decord cannot encode such a name and OpenCV's path conversion segfaults on it (issue 19), so
    neither decoder is ever handed one: the link, in a private temporary folder removed at exit,
    keeps the extension the decoders detect the container by.
    """
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    if path not in _ascii_links:
        import atexit
        import shutil
        import tempfile

        if not _ascii_links:
            folder = tempfile.mkdtemp(prefix="videossl-names-")
            atexit.register(shutil.rmtree, folder, True)
            _ascii_links["__folder__"] = folder
        folder = _ascii_links["__folder__"]
        ext = os.path.splitext(os.fsencode(path))[1].decode("ascii", "ignore")
        link = os.path.join(folder, f"v{len(_ascii_links)}{ext}")
        os.symlink(os.path.abspath(path), link)
        _ascii_links[path] = link
    return _ascii_links[path]


class _BackendError(Exception):
    """A decoder could not open a file; turned into one InputError after every backend has tried."""


def _natural_key(name: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_frame_files(folder: str | os.PathLike) -> list[str]:
    """Image files directly inside ``folder``, naturally sorted (``2.jpg`` before ``10.jpg``)."""
    folder = Path(folder)
    names = [e.name for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
             and not e.name.startswith(".")]
    return [str(folder / n) for n in sorted(names, key=_natural_key)]


def _iso_bmff_problem(path: str) -> str | None:
    """Walk the top-level boxes of an MP4/MOV file; say what is wrong, or None when it looks whole.

    A file cut short (an interrupted download or copy) either lacks its ``moov``
    index (written last by most encoders) or has a box that runs past the end of
    the file. decord and OpenCV only report "invalid data", so this check turns
    their failure into a message that says what actually happened.
    """
    size = os.path.getsize(path)
    seen: list[str] = []
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            box_size, kind = struct.unpack(">I4s", head[:8])
            name = kind.decode("latin-1")
            if not seen and name not in _FIRST_BOXES:
                return "not a video (no MP4/MOV header; a renamed or mislabelled file?)"
            if not name.isprintable() or box_size in (2, 3, 4, 5, 6, 7):
                if "moov" in seen:  # trailing padding/junk after a complete index: decoders ignore it
                    break
                return f"corrupt box after '{seen[-1]}'"
            if box_size == 1 and len(head) >= 16:
                box_size = struct.unpack(">Q", head[8:16])[0]
            elif box_size == 0:  # box runs to the end of the file
                box_size = size - pos
            if box_size < 8:  # sizes 2..7 were caught above; only a zero 64-bit size lands here
                return f"corrupt box '{name}' (size {box_size})"
            seen.append(name)
            if pos + box_size > size:
                return (f"truncated: box '{name}' needs {pos + box_size} bytes but the file has {size} "
                        f"(cut short during download or copy?)")
            pos += box_size
    if not seen:
        return "not a video (no MP4/MOV header; a renamed or mislabelled file?)"
    if "moov" not in seen:
        return "truncated or incomplete: no 'moov' index box (the encoder never finished writing it?)"
    return None


def open_video(path: str | os.PathLike, backend: str = "auto", fps: float | None = None) -> VideoReader:
    """Open a video file or a frame folder for random-access reading.

    ``backend``: ``"auto"`` (decord, then OpenCV), ``"decord"``, ``"opencv"``.
    ``fps`` only applies to frame folders, which carry no frame rate (default 30).
    """
    p = os.fspath(path)
    shown = display_path(p)
    if not os.path.exists(p):
        raise InputError(shown, "no such file or folder")
    if os.path.isdir(p):
        return FrameFolderReader(p, fps if fps else 30.0)
    if os.path.getsize(p) == 0:
        raise InputError(shown, "empty file (0 bytes)")
    if p.lower().endswith(_ISO_BMFF):
        problem = _iso_bmff_problem(p)
        if problem:
            raise InputError(shown, problem)
    if backend not in ("auto", "decord", "opencv"):
        raise ValueError(f"unknown video backend {backend!r}; use auto, decord or opencv")
    errors: list[str] = []
    if backend in ("auto", "decord"):
        try:
            return DecordReader(p)
        except ImportError:
            if backend == "decord":
                raise
            errors.append("decord: not installed")
        except _BackendError as exc:
            errors.append(f"decord: {exc}")
    if backend in ("auto", "opencv"):
        try:
            return OpenCVReader(p)
        except _BackendError as exc:
            errors.append(f"opencv: {exc}")
    raise InputError(shown, f"cannot read as a video, not a video or an unsupported codec ({'; '.join(errors)})")
