"""The runs ``streamlearn demo`` makes: config files, as a user would write them."""

from __future__ import annotations

from pathlib import Path

ELEC2 = """
# Elec2: each label comes 100 events late; ADWIN on the log loss resets the model on drift.
[source]
path = "{elec2}"
target = "target"
[labels]
delay = 100
store_path = "join-elec2.sqlite"
[drift]
detector = "ADWIN"
[checkpoint]
registry = "registry-elec2"
every_events = 10000
"""

CLICKS = """
# Clicks: a click's label comes after an exponential delay (mean 300 events); a non-click's
# never does, so after 2,000 events it is learned as "no click". A challenger learns in
# shadow, the rollback guard watches, the join lives in SQLite; checkpoints every 20,000.
[source]
path = "delayed.csv"
target = "click"
delay_column = "delay"
[labels]
ttl = 2000
expiry = "default"
default_label = 0
store = "sqlite"
store_path = "join.sqlite"
[model]
interactions = [["C1", "C2"], ["C3", "C4"]]
[drift]
detector = "ADWIN"
[[challengers]]
optimizer = "adagrad"
interactions = [["C1", "C2"], ["C3", "C4"]]
[rollback]
enabled = true
[checkpoint]
registry = "registry-clicks"
every_events = {every}
[output]
predictions = "predictions.csv"
"""


def demo_configs(folder: Path, elec2: Path, events: int) -> dict[str, str]:
    """Run name → TOML text (paths relative to ``folder``)."""
    return {
        "runner: Elec2, labels 100 events late, drift handling": ELEC2.format(elec2=elec2),
        "runner: delayed clicks, stopped half way and resumed": CLICKS.format(
            every=max(events // 10, 1000)
        ),
    }
