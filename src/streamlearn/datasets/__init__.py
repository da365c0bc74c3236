"""Data the package ships or generates, so that examples and the demo need no downloads.

- :mod:`elec2`: the Elec2 electricity-price stream (45,312 events, concept drift), embedded.
- :mod:`synth`: a generated click-through stream with hashed categorical fields and a drift.
- :mod:`obd`: the Open Bandit Dataset sample (logged impressions and clicks, two loggers).
- :mod:`movielens`: a reader for MovieLens 100K (not shipped: its licence forbids it).
"""

from streamlearn.datasets import elec2, movielens, obd, synth

__all__ = ["elec2", "movielens", "obd", "synth"]
