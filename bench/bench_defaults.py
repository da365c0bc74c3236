"""Default learners against the peers' defaults, on real and generated tabular streams.

For every stream, in one run: our default learner for the task (``make_learner``, the one
``streamlearn evaluate`` picks), River's default pipeline (``StandardScaler`` on numbers,
``OneHotEncoder`` on text, then ``LogisticRegression`` / ``OneVsRestClassifier`` /
``LinearRegression`` with their defaults) and Vowpal Wabbit with its defaults (native driver;
``--oaa`` for multiclass, logistic loss for binary). Every contender runs in a fresh process
and is scored by the same metric code on its progressive predictions; the verdict compares
our primary metric with the better peer's (binary: log loss, multiclass: accuracy,
regression: RMSE) and our speed with River's, in CPU seconds.

    python bench/bench_defaults.py [--streams 'a;b'] [--markdown out.md]
    BENCH_SEED=23 python bench/bench_defaults.py   # generated streams the defaults never saw
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from _report import emit

HERE = Path(__file__).resolve().parent
PRIMARY = {
    "binary": ("log_loss", False),
    "multiclass": ("accuracy", True),
    "regression": ("rmse", False),
}


def data_dir() -> Path:
    return Path(os.environ.get("STREAMLEARN_DATA", HERE.parent.parent / "shared" / "datasets"))


# ---------------------------------------------------------------------- streams
def _elec2() -> tuple[pa.Table, str, str]:
    return pacsv.read_csv(data_dir() / "elec2.csv.gz"), "target", "binary"


def _creditcard() -> tuple[pa.Table, str, str]:
    with lzma.open(data_dir() / "creditcard.csv.xz") as fh:
        table = pacsv.read_csv(fh)
    return table, "Class", "binary"


def _movielens(task: str) -> tuple[pa.Table, str, str]:
    def read(name: str) -> pa.Table:
        with gzip.open(data_dir() / f"ml-100k.{name}.gz") as fh:
            table = pacsv.read_csv(fh, parse_options=pacsv.ParseOptions(delimiter="\t"))
        return table.rename_columns([c.split(":")[0] for c in table.column_names])

    ratings = read("inter").sort_by("timestamp")
    users = read("user")
    joined = ratings.join(users, "user_id").sort_by("timestamp")
    table = pa.table(
        {
            "user": pa.compute.cast(joined["user_id"], pa.string()),
            "item": pa.compute.cast(joined["item_id"], pa.string()),
            "age": joined["age"],
            "gender": joined["gender"],
            "occupation": joined["occupation"],
            "rating": joined["rating"]
            if task == "regression"
            else pa.compute.cast(pa.compute.cast(joined["rating"], pa.int64()), pa.string()),
        }
    )
    return table, "rating", task


SEED = int(os.environ.get("BENCH_SEED", "11"))  # another seed: streams the defaults never saw


def _synthetic(columns: str, task: str) -> tuple[pa.Table, str, str]:
    from streamlearn.datasets import synth

    return synth.tabular_stream(100_000, columns=columns, task=task, seed=SEED), "target", task


def _clicks() -> tuple[pa.Table, str, str]:
    from streamlearn.datasets import synth

    return synth.click_stream(200_000, seed=SEED - 8), "click", "binary"


STREAMS = {
    "elec2": _elec2,
    "creditcard": _creditcard,
    "clicks (categorical + 3 numbers)": _clicks,
    "synthetic numeric, binary": lambda: _synthetic("numeric", "binary"),
    "synthetic categorical, binary": lambda: _synthetic("categorical", "binary"),
    "synthetic mixed, binary": lambda: _synthetic("mixed", "binary"),
    "synthetic numeric, multiclass": lambda: _synthetic("numeric", "multiclass"),
    "synthetic categorical, multiclass": lambda: _synthetic("categorical", "multiclass"),
    "synthetic mixed, multiclass": lambda: _synthetic("mixed", "multiclass"),
    "movielens rating, multiclass": lambda: _movielens("multiclass"),
    "synthetic numeric, regression": lambda: _synthetic("numeric", "regression"),
    "synthetic categorical, regression": lambda: _synthetic("categorical", "regression"),
    "synthetic mixed, regression": lambda: _synthetic("mixed", "regression"),
    "movielens rating, regression": lambda: _movielens("regression"),
}


def split(table: pa.Table, target: str):
    X = table.drop([target])
    y = table.column(target).to_numpy(zero_copy_only=False)
    text = [n for n in X.column_names if pa.types.is_string(X.schema.field(n).type)]
    return X, y, text


# ---------------------------------------------------------------------- contenders
def ours(table: pa.Table, target: str, task: str) -> dict:
    from streamlearn.models.factory import make_learner

    X, y, _ = split(table, target)
    make_learner(task).predict_learn_many(X.slice(0, 50), y[:50])  # compile off the clock
    model = make_learner(task)
    start = time.process_time()
    parts = []
    for begin in range(0, len(y), 65536):
        stop = min(begin + 65536, len(y))
        parts.append(model.predict_learn_many(X.slice(begin, stop - begin), y[begin:stop]))
    cpu = time.process_time() - start
    if task == "multiclass":
        width = len(model.classes)
        parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts]
        return {"cpu": cpu, "pred": np.concatenate(parts), "classes": model.classes}
    return {"cpu": cpu, "pred": np.concatenate(parts)}


def river(table: pa.Table, target: str, task: str) -> dict:
    from river import compose, linear_model, multiclass, preprocessing

    X, y, text = split(table, target)
    numbers = [n for n in X.column_names if n not in text]
    features = None
    if numbers:
        features = compose.Select(*numbers) | preprocessing.StandardScaler()
    if text:
        hot = compose.Select(*text) | preprocessing.OneHotEncoder(drop_zeros=True)
        features = hot if features is None else features + hot
    head = {
        "binary": lambda: linear_model.LogisticRegression(),
        "multiclass": lambda: multiclass.OneVsRestClassifier(linear_model.LogisticRegression()),
        "regression": lambda: linear_model.LinearRegression(),
    }[task]()
    model = features | head
    events = X.to_pylist()
    labels = [bool(v) for v in y] if task == "binary" else y.tolist()
    out = []
    start = time.process_time()
    for x, label in zip(events, labels, strict=True):
        if task == "binary":
            out.append(model.predict_proba_one(x).get(True, 0.5))
        elif task == "multiclass":
            out.append(model.predict_proba_one(x))
        else:
            out.append(model.predict_one(x))
        model.learn_one(x, label)
    cpu = time.process_time() - start
    if task == "multiclass":
        classes = sorted({label for label in labels})
        pred = np.array([[p.get(c, 0.0) for c in classes] for p in out])
        return {"cpu": cpu, "pred": pred, "classes": classes}
    return {"cpu": cpu, "pred": np.array(out, dtype=float)}


def vw(table: pa.Table, target: str, task: str) -> dict:
    from vowpalwabbit import Workspace

    X, y, text = split(table, target)
    classes = sorted(set(y.tolist())) if task == "multiclass" else None
    with tempfile.TemporaryDirectory() as tmp:
        data, preds = Path(tmp) / "data.vw", Path(tmp) / "preds.txt"
        data.write_text(_vw_text(X, y, text, task, classes))
        args = {
            "binary": "--loss_function logistic --link logistic",
            "multiclass": f"--oaa {len(classes or [])}",
            "regression": "",
        }[task]
        start = time.process_time()
        ws = Workspace(f"-d {data} {args} -p {preds} --quiet")
        ws.finish()
        cpu = time.process_time() - start
        raw = np.array([float(line.split()[0]) for line in preds.read_text().splitlines()])
    if task == "multiclass":
        pred = np.eye(len(classes))[raw.astype(int) - 1]  # VW's defaults give a class, not odds
        return {"cpu": cpu, "pred": pred, "classes": classes}
    return {"cpu": cpu, "pred": raw}


def _vw_text(X: pa.Table, y: np.ndarray, text: list[str], task: str, classes) -> str:
    if task == "binary":
        labels = ["1" if v == 1 else "-1" for v in y]
    elif task == "multiclass":
        ids = {c: i + 1 for i, c in enumerate(classes)}
        labels = [str(ids[v]) for v in y]
    else:
        labels = [repr(float(v)) for v in y]
    columns = {n: X.column(n).to_pylist() for n in X.column_names}
    lines = []
    for i, label in enumerate(labels):
        cat = " ".join(f"{n}={columns[n][i]}" for n in text if columns[n][i] is not None)
        num = " ".join(
            f"{n}:{columns[n][i]}" for n in columns if n not in text and columns[n][i] is not None
        )
        lines.append(f"{label} |c {cat} |n {num}")
    return "\n".join(lines) + "\n"


CONTENDERS = {"streamlearn default": ours, "River default pipeline": river, "VW defaults": vw}


# ---------------------------------------------------------------------- scoring
def score(task: str, y: np.ndarray, result: dict) -> dict[str, float]:
    from streamlearn.evaluate import default_metrics

    metrics = default_metrics(task, window=None)
    pred = result["pred"]
    if task == "multiclass":
        lookup = {c: i for i, c in enumerate(result["classes"])}
        truth = np.array([lookup[v] for v in y.tolist()])
    else:
        truth = y.astype(float)
    for metric in metrics:
        metric.update_many(truth, pred)
    return {m.label: m.get() for m in metrics}


def run_child(stream: str, contender: str) -> dict:
    table, target, task = STREAMS[stream]()
    result = CONTENDERS[contender](table, target, task)
    y = table.column(target).to_numpy(zero_copy_only=False)
    return {"task": task, "events": len(y), "cpu": result["cpu"], **score(task, y, result)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", default="", help="names separated by ';' (default: all)")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(*args.child)))
        return
    names = [s for s in STREAMS if not args.streams or s in args.streams.split(";")]
    rows = [
        "| stream | task | contender | events/s (CPU) | metrics | ours ÷ River speed |",
        "|---|---|---|---:|---|---:|",
    ]
    verdicts = []
    for stream in names:
        results = {}
        for contender in CONTENDERS:
            print(f"[{stream}] {contender} …", file=sys.stderr)
            child = subprocess.run(
                [sys.executable, __file__, "--child", stream, contender],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(child.stderr[-2000:], file=sys.stderr)
                continue
            results[contender] = json.loads(child.stdout.strip().splitlines()[-1])
        rows += _rows(stream, results)
        verdicts.append(_verdict(stream, results))
    emit([*rows, "", *verdicts], args.markdown)


def _rows(stream: str, results: dict) -> list[str]:
    rows = []
    river_rate = None
    if "River default pipeline" in results:
        r = results["River default pipeline"]
        river_rate = r["events"] / r["cpu"]
    for contender, r in results.items():
        rate = r["events"] / r["cpu"] if r["cpu"] > 0 else float("inf")
        shown = ", ".join(
            f"{k} {v:.4f}" for k, v in r.items() if k not in ("task", "events", "cpu")
        )
        ratio = (
            f"{rate / river_rate:.0f}×" if contender == "streamlearn default" and river_rate else ""
        )
        rows.append(f"| {stream} | {r['task']} | {contender} | {rate:,.0f} | {shown} | {ratio} |")
    return rows


def _verdict(stream: str, results: dict) -> str:
    ours_result = results.get("streamlearn default")
    peers = {k: v for k, v in results.items() if k != "streamlearn default"}
    if not ours_result or not peers:
        return f"- {stream}: incomplete run"
    name, bigger = PRIMARY[ours_result["task"]]
    pick = max if bigger else min
    best_peer = pick(peers, key=lambda k: peers[k][name])
    ours_value, peer_value = ours_result[name], peers[best_peer][name]
    ok = ours_value >= peer_value if bigger else ours_value <= peer_value
    return (
        f"- {stream}: {name} ours {ours_value:.4f} vs best peer ({best_peer}) "
        f"{peer_value:.4f} → {'ours at least as good' if ok else 'PEER BETTER'}"
    )


if __name__ == "__main__":
    main()
