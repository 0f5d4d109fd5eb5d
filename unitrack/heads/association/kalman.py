"""Constant-velocity Kalman filter in box space, vectorised over tracks (DeepSORT / JDE / UniTrack).

State: ``(x, y, a, h, vx, vy, va, vh)`` with box centre ``(x, y)``, aspect ratio ``a = w / h``
and height ``h``. The process and measurement noise scale with the box height (std weights
1/20 for position, 1/160 for velocity), so a large near-camera pedestrian is allowed to move
more pixels per frame than a small one. Every method takes a stack of tracks (``mean [N, 8]``,
``cov [N, 8, 8]``) so one frame costs a handful of batched numpy ops, not one call per track.
"""

from __future__ import annotations

import numpy as np

# 0.95 quantile of the chi-square distribution with k degrees of freedom (DeepSORT's table).
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067, 8: 15.507, 9: 16.919}


def tlwh_to_xyah(tlwh: np.ndarray) -> np.ndarray:
    """``[N, 4]`` top-left/width/height -> centre/aspect/height (height floored at 1e-6 to avoid a / 0)."""
    tlwh = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4)
    h = np.maximum(tlwh[:, 3], 1e-6)
    return np.stack([tlwh[:, 0] + tlwh[:, 2] / 2, tlwh[:, 1] + tlwh[:, 3] / 2, tlwh[:, 2] / h, h], axis=1)


def xyah_to_tlwh(xyah: np.ndarray) -> np.ndarray:
    xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
    w = xyah[:, 2] * xyah[:, 3]
    return np.stack([xyah[:, 0] - w / 2, xyah[:, 1] - xyah[:, 3] / 2, w, xyah[:, 3]], axis=1)


class KalmanFilter:
    """DeepSORT's filter with every operation batched over the leading track axis."""

    ndim = 4

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160, dt: float = 1.0):
        self.F = np.eye(8)
        self.F[:4, 4:] = dt * np.eye(4)
        self.H = np.eye(4, 8)
        self.w_pos = std_weight_position
        self.w_vel = std_weight_velocity

    # -- helpers -------------------------------------------------------------------------
    def _std(self, h: np.ndarray, pos_scale: float, vel_scale: float, aspect: float, aspect_vel: float):
        """Per-track standard deviations ``[N, 8]``; aspect terms are absolute, the rest scale with h."""
        h = h[:, None]
        pos = np.concatenate([pos_scale * self.w_pos * h, np.full_like(h, aspect), pos_scale * self.w_pos * h], 1)
        pos = pos[:, [0, 0, 1, 2]]
        vel = np.concatenate([vel_scale * self.w_vel * h, np.full_like(h, aspect_vel), vel_scale * self.w_vel * h], 1)
        vel = vel[:, [0, 0, 1, 2]]
        return np.concatenate([pos, vel], 1)

    # -- filter steps --------------------------------------------------------------------
    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from unassociated measurements ``[N, 4]`` (xyah): zero velocity, wide covariance."""
        z = np.asarray(measurement, dtype=np.float64).reshape(-1, 4)
        mean = np.concatenate([z, np.zeros_like(z)], 1)
        std = self._std(z[:, 3], 2.0, 10.0, 1e-2, 1e-5)
        cov = np.zeros((len(z), 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step ahead: ``x' = F x``, ``P' = F P F^T + Q`` with Q from the current height."""
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 8)
        if len(mean) == 0:
            return mean, np.asarray(cov).reshape(0, 8, 8)
        std = self._std(mean[:, 3], 1.0, 1.0, 1e-2, 1e-5)
        Q = np.zeros((len(mean), 8, 8))
        idx = np.arange(8)
        Q[:, idx, idx] = std**2
        mean = mean @ self.F.T
        cov = self.F @ cov @ self.F.T + Q
        return mean, cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State distribution -> measurement distribution (``H x``, ``H P H^T + R``)."""
        std = self._std(mean[:, 3], 1.0, 0.0, 1e-1, 0.0)[:, :4]
        R = np.zeros((len(mean), 4, 4))
        idx = np.arange(4)
        R[:, idx, idx] = std**2
        return mean[:, :4], cov[:, :4, :4] + R

    def update(self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct N tracks with their N matched measurements (xyah), row for row."""
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 8)
        if len(mean) == 0:
            return mean, np.asarray(cov).reshape(0, 8, 8)
        z = np.asarray(measurement, dtype=np.float64).reshape(-1, 4)
        proj_mean, S = self.project(mean, cov)
        PHt = cov[:, :, :4]  # P H^T, since H selects the first four state entries
        # K = P H^T S^-1, solved rather than inverted (S is SPD).
        K = np.linalg.solve(S, np.transpose(PHt, (0, 2, 1))).transpose(0, 2, 1)
        innovation = z - proj_mean
        new_mean = mean + np.einsum("nij,nj->ni", K, innovation)
        new_cov = cov - K @ S @ np.transpose(K, (0, 2, 1))
        return new_mean, new_cov

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray,
                        only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distance ``[N tracks, M measurements]`` in measurement space.

        Compare with ``CHI2INV95[4]`` (or ``[2]`` with ``only_position``) to gate.
        """
        mean = np.asarray(mean, dtype=np.float64).reshape(-1, 8)
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        if len(mean) == 0 or len(z) == 0:
            return np.zeros((len(mean), len(z)))
        proj_mean, S = self.project(mean, cov)
        if only_position:
            proj_mean, S, z = proj_mean[:, :2], S[:, :2, :2], z[:, :2]
        L_inv = np.linalg.inv(np.linalg.cholesky(S))  # [N, d, d]: one small inverse per track, not per pair
        d = z[None, :, :] - proj_mean[:, None, :]  # [N, M, dim]
        y = np.einsum("nij,nmj->nmi", L_inv, d)  # whitened innovations; distance = |L^-1 d|^2
        return np.sum(y * y, axis=-1)
