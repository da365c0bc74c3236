"""A griffe extension for the API reference: the docstrings' doctest examples (``>>>``
lines and their output) become fenced ``pycon`` code, and an ``Example`` section reads as
numpy's ``Examples``, so that Markdown never parses code as text."""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example\n\1-------\n", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj):`(~?)([^`]+)`")


def _code(match: re.Match) -> str:
    """A Sphinx role as code (``~`` keeps the last name only)."""
    name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
    return f"`{name}`"


def fenced(text: str) -> str:
    """``text`` with each run of doctest lines (a prompt, its continuations and output up
    to a blank line) inside a ``pycon`` fence."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *[indent + b for b in block], f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence every object's doctests when it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            value = _EXAMPLE.sub(lambda m: f"{m[1]}Examples\n{m[1]}--------\n", obj.docstring.value)
            obj.docstring.value = fenced(_ROLE.sub(_code, value))
