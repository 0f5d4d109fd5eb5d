"""Articulated stick-figure people with JHMDB's 15 joints, for pose propagation.

A :class:`Figure` is a layer of the shared :class:`~unitrack.data.synth.scene.Scene`: its joints are
computed from a root path and per-action joint angles (a kinematic chain: torso, head, two-link arms
and legs), and its raster draws thick textured limbs between those same joints, so every joint sits
on the figure's own pixels. Actions, in JHMDB's class names: ``walk`` (counter-swinging arms and
legs), ``wave`` (one arm raised and swinging), ``jump`` (crouch, flight with arms up, landing).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unitrack.data.jhmdb import NUM_JOINTS
from unitrack.data.synth.scene import Raster

ACTIONS = ("walk", "wave", "jump")
# joint indices in JHMDB order
NECK, BELLY, FACE, RSH, LSH, RHIP, LHIP, REL, LEL, RKN, LKN, RWR, LWR, RAN, LAN = range(NUM_JOINTS)
_LIMBS = (  # (from, to, part label: 1 shirt 2 trousers 3 skin, thickness in body units); drawn in order
    (RHIP, RKN, 2, 0.42), (RKN, RAN, 2, 0.36), (LHIP, LKN, 2, 0.42), (LKN, LAN, 2, 0.36),
    (NECK, FACE, 3, 0.3),
    (RSH, REL, 1, 0.34), (REL, RWR, 1, 0.28), (LSH, LEL, 1, 0.34), (LEL, LWR, 1, 0.28),
)  # fmt: skip


def _dir(theta: np.ndarray | float) -> np.ndarray:
    """Unit vector at angle ``theta`` from straight down, positive towards +x."""
    return np.array([np.sin(theta), np.cos(theta)])


@dataclass
class Figure:
    """A person of ``height`` pixels whose belly follows ``(cx, cy)``; ``textures`` = (shirt, trousers, skin)."""

    oid: int
    action: str
    height: float
    cx: np.ndarray
    cy: np.ndarray
    textures: tuple[np.ndarray, np.ndarray, np.ndarray]
    depth: float
    speed: float = 0.35  # radians of gait phase per frame
    phase: float = 0.0
    anchored: bool = True
    cls: int = 1

    def joints(self, t: int, drift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Float ``[15, 2]`` (x, y) frame coordinates at ``t`` (0-based pixels)."""
        u = self.height / 5.6
        ph = self.speed * t + self.phase
        s = np.sin(ph)
        lift, lean = 0.0, 0.06 * np.sin(0.5 * ph)
        arm = {"r": (0.45 * s, 0.25 + 0.2 * max(0.0, s)), "l": (-0.45 * s, 0.25 + 0.2 * max(0.0, -s))}
        leg = {"r": (-0.4 * s, -0.5 * max(0.0, -s)), "l": (0.4 * s, -0.5 * max(0.0, s))}
        if self.action == "wave":
            arm["r"] = (2.5 + 0.1 * s, -0.9 + 0.6 * s)
            arm["l"] = (-0.15, 0.2)
            leg = {"r": (0.12, 0.0), "l": (-0.12, 0.0)}
        elif self.action == "jump":
            cycle = np.sin(0.5 * ph)
            lift = 1.6 * u * max(0.0, cycle)
            crouch = max(0.0, -cycle)
            up = max(0.0, cycle)
            arm = {"r": (0.3 + 2.3 * up, 0.3), "l": (-0.3 - 2.3 * up, -0.3)}
            leg = {"r": (0.15 + 0.5 * crouch, -1.0 * crouch), "l": (-0.15 - 0.5 * crouch, 1.0 * crouch)}
        j = np.zeros((NUM_JOINTS, 2))
        j[BELLY] = (self.cx[t], self.cy[t] - lift)
        j[NECK] = j[BELLY] + 1.5 * u * _dir(np.pi + lean)
        j[FACE] = j[NECK] + 0.75 * u * _dir(np.pi + 1.5 * lean)
        j[RSH], j[LSH] = j[NECK] + (-0.6 * u, 0.15 * u), j[NECK] + (0.6 * u, 0.15 * u)
        j[RHIP], j[LHIP] = j[BELLY] + (-0.4 * u, 0.45 * u), j[BELLY] + (0.4 * u, 0.45 * u)
        for side, sh, el, wr in (("r", RSH, REL, RWR), ("l", LSH, LEL, LWR)):
            a, bend = arm[side]
            sign = -1 if side == "r" else 1
            j[el] = j[sh] + 1.0 * u * _dir(sign * 0.15 + a)
            j[wr] = j[el] + 0.9 * u * _dir(sign * 0.15 + a + bend)
        for side, hip, kn, an in (("r", RHIP, RKN, RAN), ("l", LHIP, LKN, LAN)):
            a, bend = leg[side]
            j[kn] = j[hip] + 1.25 * u * _dir(a)
            j[an] = j[kn] + 1.2 * u * _dir(a + bend)
        if self.anchored:
            j -= np.asarray(drift)
        return j

    def raster(self, t: int, drift: tuple[float, float]) -> Raster:
        j = self.joints(t, drift)
        u = self.height / 5.6
        m = int(np.ceil(0.6 * u)) + 2
        x0, y0 = int(np.floor(j[:, 0].min())) - m, int(np.floor(j[:, 1].min())) - m
        w, h = int(np.ceil(j[:, 0].max())) + m - x0 + 1, int(np.ceil(j[:, 1].max())) + m - y0 + 1
        part = np.zeros((h, w), np.uint8)  # 0 none, 1 shirt, 2 trousers, 3 skin
        pt = lambda k: (int(round(j[k, 0] - x0)), int(round(j[k, 1] - y0)))  # noqa: E731
        for a, b, label, thick in _LIMBS[:4]:
            cv2.line(part, pt(a), pt(b), label, max(2, int(round(thick * u))), cv2.LINE_8)
        torso = np.array([pt(RSH), pt(LSH), pt(LHIP), pt(RHIP)], np.int32)
        cv2.fillConvexPoly(part, torso, 1)
        for a, b, label, thick in _LIMBS[4:]:
            cv2.line(part, pt(a), pt(b), label, max(2, int(round(thick * u))), cv2.LINE_8)
        for k in (RWR, LWR):
            cv2.circle(part, pt(k), max(1, int(round(0.2 * u))), 3, -1)
        cv2.ellipse(part, pt(FACE), (max(2, int(round(0.42 * u))), max(2, int(round(0.5 * u)))), 0, 0, 360, 3, -1)
        rgb = np.zeros((h, w, 3), np.uint8)
        for label, tex in zip((1, 2, 3), self.textures):
            if tex.shape[0] < h or tex.shape[1] < w:
                tex = cv2.resize(tex, (max(w, tex.shape[1]), max(h, tex.shape[0])))
            sel = part == label
            rgb[sel] = tex[:h, :w][sel]
        return Raster(x0, y0, part > 0, rgb)
