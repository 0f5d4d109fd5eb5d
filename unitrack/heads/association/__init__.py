"""Association core shared by the MOT and MOTS heads: Kalman motion, matching costs, the track state machine."""

from unitrack.heads.association.kalman import CHI2INV95, KalmanFilter
from unitrack.heads.association.matching import linear_assignment
from unitrack.heads.association.tracker import AssociationTracker, Detections, TrackerConfig

__all__ = ["CHI2INV95", "KalmanFilter", "linear_assignment", "AssociationTracker", "Detections", "TrackerConfig"]
