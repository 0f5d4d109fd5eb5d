"""Video reading: files (decord, OpenCV fallback) and frame folders, clip samplers, transforms, prefetching.

``open_video(path) -> VideoReader`` (``len``, ``fps``, ``height``, ``width``, ``path``,
``get_batch(indices) -> uint8 [N,H,W,3]`` RGB) and ``prefetch(reader, index_batches,
transform=None, num_threads=2)`` are the interface the rest of the toolkit uses;
bad input raises :class:`videossl.errors.InputError` naming the file.
"""

from videossl.io import samplers, transforms
from videossl.io.discover import find_videos
from videossl.io.prefetch import Event, VideoJob, prefetch, prefetch_videos
from videossl.io.reader import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DecordReader,
    FrameFolderReader,
    OpenCVReader,
    VideoReader,
    list_frame_files,
    open_video,
)
from videossl.io.transforms import resize, to_tensor_normalized

__all__ = [
    "open_video",
    "find_videos",
    "VideoReader",
    "DecordReader",
    "OpenCVReader",
    "FrameFolderReader",
    "list_frame_files",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "prefetch",
    "prefetch_videos",
    "VideoJob",
    "Event",
    "samplers",
    "transforms",
    "resize",
    "to_tensor_normalized",
]
