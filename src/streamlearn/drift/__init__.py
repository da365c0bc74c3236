"""Drift detectors: one small interface, a compiled batch path with identical detections.

KSWIN and a label-free detector are still to come (issue #3); adaptation policies live in
:mod:`streamlearn.adaptation`.
"""

from streamlearn.drift.adwin import ADWIN
from streamlearn.drift.base import DRIFT, NONE, WARNING, DriftDetector
from streamlearn.drift.ddm import DDM
from streamlearn.drift.eddm import EDDM
from streamlearn.drift.page_hinkley import PageHinkley
from streamlearn.drift.window import WindowErrorRate

DETECTORS: dict[str, type[DriftDetector]] = {
    cls.__name__: cls for cls in (ADWIN, PageHinkley, DDM, EDDM, WindowErrorRate)
}

__all__ = [
    "DDM",
    "DETECTORS",
    "DRIFT",
    "EDDM",
    "NONE",
    "WARNING",
    "DriftDetector",
    "PageHinkley",
    "WindowErrorRate",
]
