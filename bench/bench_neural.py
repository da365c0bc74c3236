"""The mini-batch neural learner: events/s (predict each event, learn it in mini-batches)
for batch sizes 32 to 1024, on CUDA when there is one (CPU otherwise), on the generated
click stream; progressive log loss beside each.

python bench/bench_neural.py [--events 200000] [--bits 12] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _report import emit

from streamlearn.datasets import synth
from streamlearn.models.neural import TorchClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--bits", type=int, default=12)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    table = synth.click_stream(args.events, seed=3, drift=False)
    X, y = table.drop(["click"]), table["click"].to_numpy().astype(float)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    TorchClassifier(bits=args.bits, batch_size=32).predict_learn_many(X.slice(0, 1000), y[:1000])
    rows = [
        f"Neural learner (MLP 2^{args.bits} → 32 → 1, Adam) on {name}, "
        f"{args.events:,} click events (torch {torch.__version__}):",
        "",
        "| batch size | events/s (wall) | updates | progressive log loss |",
        "|---:|---:|---:|---:|",
    ]
    for batch in (32, 64, 128, 256, 512, 1024):
        model = TorchClassifier(bits=args.bits, batch_size=batch, lr=0.002, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        p = model.predict_learn_many(X, y)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        p = np.clip(p, 1e-15, 1 - 1e-15)
        loss = float(-np.mean(np.where(y >= 0.5, np.log(p), np.log1p(-p))))
        rows.append(f"| {batch} | {args.events / seconds:,.0f} | {model.updates:,} | {loss:.4f} |")
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
