"""Bayesian regression and bandits: updates per CPU second against River, and off-policy
estimates of each policy's click rate on the Open Bandit Dataset's real logs. One run.

python bench/bench_bandit.py [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import emit
from river import bandit as river_bandit
from river import linear_model as river_linear

from streamlearn.datasets import elec2, obd
from streamlearn.evaluate.offpolicy import evaluate_policy
from streamlearn.models import BayesianLinearRegression, HybridLinUCB, LinearBandit


def cpu(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def regression_events() -> tuple[list[dict], list[float]]:
    """Elec2's NSW demand from the other five columns."""
    events, targets = [], []
    for x, _ in elec2.stream():
        targets.append(x.pop("feat_3"))
        events.append(x)
    return events, targets


def bayes_rows() -> list[str]:
    events, targets = regression_events()
    columns = {k: np.array([x[k] for x in events]) for k in events[0]}
    y = np.array(targets)
    warm = BayesianLinearRegression(standardize=False)
    warm.learn_many({k: v[:100] for k, v in columns.items()}, y[:100])  # compile off the clock
    warm.learn_one(events[0], targets[0])
    n = len(events)
    ours_batch = cpu(lambda: BayesianLinearRegression(standardize=False).learn_many(columns, y))
    one = BayesianLinearRegression(standardize=False)
    ours_one = cpu(lambda: [one.learn_one(x, t) for x, t in zip(events, targets, strict=True)])
    river = river_linear.BayesianLinearRegression(alpha=1.0, beta=1.0)
    prefix = 10_000
    pairs = list(zip(events[:prefix], targets[:prefix], strict=True))
    theirs = cpu(lambda: [river.learn_one(x, t) for x, t in pairs]) / prefix
    head = {k: v[:prefix] for k, v in columns.items()}
    ours_mae = np.mean(
        np.abs(
            BayesianLinearRegression(standardize=False).predict_learn_many(head, y[:prefix])
            - y[:prefix]
        )
    )
    river_mae = _river_progressive(events, targets, prefix)
    return [
        "| Bayesian linear regression (Elec2, 45,312 events, 5 features) | updates/s | × River |",
        "|---|---:|---:|",
        f"| River `BayesianLinearRegression.learn_one` | {1 / theirs:,.0f} | 1× |",
        f"| ours, `learn_one` | {n / ours_one:,.0f} | {theirs * n / ours_one:.0f}× |",
        f"| ours, `learn_many` (compiled batch) | {n / ours_batch:,.0f} | "
        f"{theirs * n / ours_batch:.0f}× |",
        f"| progressive MAE on the first {prefix:,} events, ours / River (the same posterior) | "
        f"{ours_mae:.4f} / {river_mae:.4f} | |",
    ]


def _river_progressive(events, targets, limit=10_000) -> float:
    model = river_linear.BayesianLinearRegression(alpha=1.0, beta=1.0)
    errors = []
    for x, t in zip(events[:limit], targets[:limit], strict=True):
        errors.append(abs(model.predict_one(x) - t))
        model.learn_one(x, t)
    return float(np.mean(errors))


def linucb_rows() -> list[str]:
    log = obd.load("random")
    n, arms = len(log), list(range(80))
    contexts = [log.context(i) for i in range(n)]
    warm = LinearBandit(arms, capacity=32)
    warm.predict_learn_many(log.slice(0, 50).contexts, (log.actions[:50], log.rewards[:50]))
    warm.decide_one(contexts[0])
    warm.learn_one(contexts[0], (0, 0.0))
    batch = cpu(
        lambda: LinearBandit(arms, capacity=32).predict_learn_many(
            log.contexts, (log.actions, log.rewards)
        )
    )
    one = LinearBandit(arms, capacity=32)

    def steps() -> None:
        for i in range(n):
            one.decide_one(contexts[i])
            one.learn_one(contexts[i], (int(log.actions[i]), float(log.rewards[i])))

    ours_one = cpu(steps)
    river = river_bandit.LinUCBDisjoint(alpha=1.0, beta=1.0, seed=0)
    prefix = 300
    # River's contexts: one-hot categories (its linear models take numbers).
    numeric = [{f"{k}={v}": 1.0 for k, v in c.items()} for c in contexts[:prefix]]

    def river_steps() -> None:
        for i in range(prefix):
            river.pull(arms, context=numeric[i])
            river.update(int(log.actions[i]), numeric[i], float(log.rewards[i]))

    theirs = cpu(river_steps) / prefix
    return [
        "| LinUCB, disjoint (OBD, 80 arms, decide + update) | events/s | × River |",
        "|---|---:|---:|",
        f"| River `LinUCBDisjoint` (`pull` + `update`, first {prefix} events) | "
        f"{1 / theirs:,.0f} | 1× |",
        f"| ours, `decide_one` + `learn_one` | {n / ours_one:,.0f} | "
        f"{theirs * n / ours_one:.0f}× |",
        f"| ours, `predict_learn_many` (compiled batch) | {n / batch:,.0f} | "
        f"{theirs * n / batch:.0f}× |",
    ]


POLICIES = {
    "uniform random": lambda: LinearBandit(range(80), rule="greedy", explore=1.0, capacity=32),
    "ε-greedy (ε = 0.1)": lambda: LinearBandit(range(80), rule="greedy", explore=0.1, capacity=32),
    "LinUCB (c = 0.1)": lambda: LinearBandit(range(80), rule="ucb", explore=0.1, capacity=32),
    "Thompson (v = 0.1)": lambda: LinearBandit(
        range(80), rule="thompson", explore=0.1, capacity=32
    ),
    "softmax (τ = 0.01)": lambda: LinearBandit(
        range(80), rule="softmax", explore=0.01, capacity=32
    ),
    "hybrid LinUCB (c = 0.1)": lambda: HybridLinUCB(
        range(80),
        shared=obd.item_feature_names(),
        arm_features=obd.item_features(),
        explore=0.1,
        capacity=32,
    ),
}


def ci(estimate) -> str:
    return f"{estimate.value * 100:.3f} [{estimate.low * 100:.3f}, {estimate.high * 100:.3f}]"


def ope_rows() -> list[str]:
    rows = []
    for logger in ("random", "bts"):
        log = obd.load(logger)
        columns = ["IPS", "SNIPS", "DR"] + (["replay (events kept)"] if logger == "random" else [])
        who = "a uniform-random policy" if logger == "random" else "Bernoulli Thompson sampling"
        own = ci(evaluate_policy(POLICIES["uniform random"](), log)["logged"])
        rows += [
            "",
            f"**Logged by {who}** (10,000 impressions; the logger's own click rate: {own} %)",
            "",
            "| policy (learning from the log) | " + " | ".join(columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for name, make in POLICIES.items():
            table = evaluate_policy(make(), log)
            cells = [ci(table[k]) for k in ("ips", "snips", "dr")]
            if logger == "random":
                cells.append(f"{ci(table['replay'])} ({table['replay'].n})")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    rows = [*bayes_rows(), "", *linucb_rows()]
    rows += ["", "Estimated click rates (%) with 95% intervals:", *ope_rows()]
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
