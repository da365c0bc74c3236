"""Drift detectors: one small interface, a compiled batch path with identical detections.

PSI watches a value's distribution without labels; KSWIN is still to come (issue #3).
Adaptation policies live in :mod:`streamlearn.adaptation`.
"""

from streamlearn.drift.adwin import ADWIN
from streamlearn.drift.base import DRIFT, NONE, WARNING, DriftDetector
from streamlearn.drift.ddm import DDM
from streamlearn.drift.eddm import EDDM
from streamlearn.drift.page_hinkley import PageHinkley
from streamlearn.drift.psi import PSI
from streamlearn.drift.window import WindowErrorRate

DETECTORS: dict[str, type[DriftDetector]] = {
    cls.__name__: cls for cls in (ADWIN, PageHinkley, DDM, EDDM, WindowErrorRate, PSI)
}

__all__ = [
    "DDM",
    "DETECTORS",
    "DRIFT",
    "EDDM",
    "NONE",
    "PSI",
    "WARNING",
    "DriftDetector",
    "PageHinkley",
    "WindowErrorRate",
]
