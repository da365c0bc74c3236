"""What a user's whole process costs before and around a small job: ``streamlearn --help``,
``streamlearn evaluate --help`` and ``streamlearn evaluate`` on the first 100 rows of Elec2,
against Vowpal Wabbit reading the same 100 rows (``vw`` through its Python package), each in
a fresh process. CPU seconds (user + system) and peak RSS per process, median of the runs.

    python bench/bench_startup.py [--repeat 5] [--markdown bench/startup.md]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit

from streamlearn.datasets import elec2

ROWS = 100
TIMED = ["/usr/bin/time", "-f", "%U %S %M"]


def small_files(folder: Path) -> tuple[Path, Path]:
    """The first rows of Elec2 as CSV, and as VW's text format."""
    with gzip.open(elec2.path(), "rt") as fh:
        lines = [next(fh) for _ in range(ROWS + 1)]
    csv_path, vw_path = folder / "elec2-100.csv", folder / "elec2-100.vw"
    csv_path.write_text("".join(lines))
    names = lines[0].strip().split(",")
    with open(vw_path, "w") as out:
        for line in lines[1:]:
            values = dict(zip(names, line.strip().split(","), strict=True))
            label = 1 if float(values.pop("target")) > 0 else -1
            features = " ".join(f"{k}:{v}" for k, v in values.items())
            out.write(f"{label} |f {features}\n")
    return csv_path, vw_path


def measure(command: list[str], repeat: int) -> tuple[float, float]:
    """Median CPU seconds and peak RSS (MB) of ``command``, each run a fresh process."""
    cpu, rss = [], []
    for _ in range(repeat):
        done = subprocess.run(TIMED + command, capture_output=True, text=True, check=True)
        user, system, kilobytes = done.stderr.strip().splitlines()[-1].split()
        cpu.append(float(user) + float(system))
        rss.append(int(kilobytes) / 1024)
    return statistics.median(cpu), statistics.median(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    streamlearn = [sys.executable, "-m", "streamlearn.cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, vw_path = small_files(Path(tmp))
        evaluate = [*streamlearn, "evaluate", str(csv_path), "--target", "target"]
        subprocess.run(evaluate, capture_output=True, check=True)  # numba's cache: warm
        vw = f"from vowpalwabbit import Workspace; Workspace('-d {vw_path} --quiet').finish()"
        commands = {
            "streamlearn --help": [*streamlearn, "--help"],
            "streamlearn evaluate --help": [*streamlearn, "evaluate", "--help"],
            f"streamlearn evaluate ({ROWS} rows, warm cache)": evaluate,
            f"vw -d ({ROWS} rows, Python package)": [sys.executable, "-c", vw],
        }
        results = {name: measure(command, args.repeat) for name, command in commands.items()}
    rows = [
        f"Whole process, median of {args.repeat} fresh runs ({os.cpu_count()} cores)",
        "",
        "| command | CPU s | peak RSS MB |",
        "|---|---:|---:|",
    ]
    rows += [f"| {name} | {cpu:.2f} | {rss:.0f} |" for name, (cpu, rss) in results.items()]
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
