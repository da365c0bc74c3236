"""What every benchmark does with its table: print it, and write it for the documentation."""

from __future__ import annotations

from pathlib import Path


def emit(rows: list[str], markdown: Path | None) -> None:
    text = "\n".join(rows)
    print(text)
    if markdown:
        markdown.write_text(text + "\n")
