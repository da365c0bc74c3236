"""Drift detectors: one small interface, a compiled batch path with identical detections.

PSI and KSWIN watch a value's distribution without labels.
Adaptation policies live in :mod:`streamlearn.adaptation`.
"""

from streamlearn.drift.adwin import ADWIN
from streamlearn.drift.base import DRIFT, NONE, WARNING, DriftDetector
from streamlearn.drift.ddm import DDM
from streamlearn.drift.eddm import EDDM
from streamlearn.drift.kswin import KSWIN
from streamlearn.drift.page_hinkley import PageHinkley
from streamlearn.drift.psi import PSI
from streamlearn.drift.window import WindowErrorRate

DETECTORS: dict[str, type[DriftDetector]] = {
    cls.__name__: cls for cls in (ADWIN, PageHinkley, DDM, EDDM, KSWIN, WindowErrorRate, PSI)
}

__all__ = [
    "DDM",
    "DETECTORS",
    "DRIFT",
    "EDDM",
    "KSWIN",
    "NONE",
    "PSI",
    "WARNING",
    "DriftDetector",
    "PageHinkley",
    "WindowErrorRate",
]
