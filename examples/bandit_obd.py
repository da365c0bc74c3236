"""Contextual bandits on the Open Bandit Dataset (shipped with the package): every policy
learns from the uniformly logged impressions and its click rate is estimated off-policy
(IPS, SNIPS, doubly robust, replay) with 95% intervals, next to the logger's own.

python examples/bandit_obd.py
"""

from __future__ import annotations

from streamlearn.datasets import obd
from streamlearn.evaluate.offpolicy import evaluate_policy
from streamlearn.models import HybridLinUCB, LinearBandit

POLICIES = {
    "ε-greedy (ε = 0.1)": lambda: LinearBandit(range(80), "greedy", 0.1, capacity=32),
    "LinUCB (c = 0.1)": lambda: LinearBandit(range(80), "ucb", 0.1, capacity=32),
    "Thompson (v = 0.1)": lambda: LinearBandit(range(80), "thompson", 0.1, capacity=32),
    "softmax (τ = 0.01)": lambda: LinearBandit(range(80), "softmax", 0.01, capacity=32),
    "hybrid LinUCB (c = 0.1)": lambda: HybridLinUCB(
        range(80), obd.item_feature_names(), obd.item_features(), explore=0.1, capacity=32
    ),
}


def pct(estimate) -> str:
    return f"{100 * estimate.value:.3f} [{100 * estimate.low:.3f}, {100 * estimate.high:.3f}]"


def main() -> None:
    log = obd.load("random")
    print("| policy | IPS % | SNIPS % | DR % | replay % (events kept) |")
    print("|---|---:|---:|---:|---:|")
    logged = None
    for name, make in POLICIES.items():
        table = evaluate_policy(make(), log)
        logged = table["logged"]
        print(
            f"| {name} | {pct(table['ips'])} | {pct(table['snips'])} | {pct(table['dr'])} | "
            f"{pct(table['replay'])} ({table['replay'].n}) |"
        )
    print(f"| the uniform logger itself | {pct(logged)} | | | |")


if __name__ == "__main__":
    main()
