"""Which of "car driving" / "car parked" a head reads for a sharp, still car on the ground at x = 0.15..0.85 of
the frame (8 colours and backgrounds per position, per-frame ``encode_image`` against the training concept matrix):
a position cue the web captions can teach (driving cars cross the frame, parked ones sit at x in 0.35-0.65).

    PYTHONPATH=$PWD python eval/lss_position_probe.py image /tmp/lss/lit-web-image.safetensors
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from videossl.concepts import embed_concepts, load_concepts
from videossl.data.object_actions import COLOURS, GROUND, _background, _draw
from videossl.io.transforms import to_tensor_normalized
from videossl.models import create_model
torch.set_num_threads(1)
size, xs = 96, np.linspace(0.15, 0.85, 15)
frames = []
for seed in range(8):  # 8 colours/backgrounds/radii per position
    rng = np.random.default_rng(seed)
    col = np.array(list(COLOURS.values())[seed], float)
    tint, r0 = rng.uniform(60, 160, 3), rng.uniform(0.09, 0.13) * size
    for x in xs:
        f = _background(np.random.default_rng(100 + seed), size, tint)
        _draw(f, "car", (x * size, GROUND * size - 0.65 * r0), r0, 0.0, col)
        frames.append(f)
for w in sys.argv[1:]:
    m = create_model("mobilenetv2-lit", pretrained=w).eval()
    x = to_tensor_normalized(np.stack(frames), m.mean, m.std)
    E = F.normalize(embed_concepts(load_concepts("videossl/prompts/object_actions.json"), m).actions.float(), dim=-1)
    with torch.no_grad():
        s = F.normalize(m.encode_image(x).float(), dim=-1) @ E.t()
    drive = (s[:, 2] > s[:, 3]).float().view(8, len(xs)).mean(0)
    reads = " ".join(f"{a:.2f}:{int(8 * d)}" for a, d in zip(xs, drive))
    print(w.split("/")[-1], "share read 'driving' (of 8) by x:", reads)
