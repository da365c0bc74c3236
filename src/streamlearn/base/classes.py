"""Class labels of a multiclass learner: validated, numbered in order of first appearance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_LABEL_CHARS = 256  # a class label's length in characters, at most
MAX_CLASSES = 1000  # a learner's classes, by default: a stream of new labels cannot grow it


class TooManyClasses(ValueError):
    """A label would be one class more than the learner allows.

    Example
    -------
    >>> from streamlearn.models import SoftmaxRegression
    >>> model = SoftmaxRegression(max_classes=2)
    >>> model.learn_one({"x": 1.0}, "a"); model.learn_one({"x": 2.0}, "b")
    >>> try:
    ...     model.learn_one({"x": 3.0}, "c")
    ... except TooManyClasses as error:
    ...     print(type(error).__name__)
    TooManyClasses
    """


def check_label(label: Any) -> str | int | bool | float:
    """A label as a JSON-able scalar: integral floats become ints (``1.0`` is ``1``); text
    is valid Unicode of at most :data:`MAX_LABEL_CHARS` characters."""
    if isinstance(label, bool | np.bool_):
        return bool(label)
    if isinstance(label, int | np.integer):
        return int(label)
    if isinstance(label, float | np.floating):
        if not math.isfinite(label):
            raise ValueError(f"a class label must be finite, got {label!r}")
        return int(label) if float(label).is_integer() else float(label)
    if isinstance(label, str):
        if len(label) > MAX_LABEL_CHARS:
            raise ValueError(f"a class label has at most {MAX_LABEL_CHARS} characters")
        try:
            label.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800")
            raise ValueError("a class label must be valid Unicode") from None
        return label
    raise ValueError(f"a class label must be a str, int or bool, got {label!r}")


class ClassIndex:
    """The labels seen so far; ids are positions in :attr:`labels`.

    Parameters
    ----------
    labels
        The labels known from the start, in the order of their ids.
    limit
        At most this many classes: a label that would be one more is refused.

    Example
    -------
    >>> from streamlearn.base.classes import ClassIndex
    >>> index = ClassIndex()
    >>> index.ids(["b", "a", "b", 3.0]).tolist(), index.labels
    ([0, 1, 0, 2], ['b', 'a', 3])
    """

    def __init__(self, labels: list | None = None, limit: int = MAX_CLASSES) -> None:
        if limit < 2:
            raise ValueError(f"max_classes must be >= 2, got {limit}")
        self.limit = limit
        self.labels: list = []
        self._ids: dict[Any, int] = {}
        labels = list(labels or [])
        if len(labels) > limit:
            raise ValueError(f"{len(labels)} classes, more than max_classes {limit}")
        for label in labels:
            self.id_of(label)

    def __len__(self) -> int:
        return len(self.labels)

    def id_of(self, label: Any, register: bool = True) -> int:
        """The id of ``label``, numbering it if new (or -1 when ``register`` is false)."""
        label = check_label(label)
        # Python's equality decides, as in the {label: probability} dicts: "1" and 1 are
        # two classes, 1 and True one.
        found = self._ids.get(label)
        if found is None:
            if not register:
                return -1
            if len(self.labels) >= self.limit:
                raise TooManyClasses(
                    f"{label!r} would be class {self.limit + 1}; max_classes is {self.limit}"
                )
            found = self._ids[label] = len(self.labels)
            self.labels.append(label)
        return found

    def ids(self, labels: Any) -> np.ndarray:
        """Ids of a sequence of labels, numbering new ones in order."""
        values = _values(labels)
        found = _each_distinct(values, self.id_of)
        return np.fromiter((found[key] for key in _keys(values)), np.int64, len(values))

    def checked(self, labels: Any) -> list:
        """The labels, validated, without numbering any (so a bad batch changes nothing)."""
        values = _values(labels)
        found = _each_distinct(values, check_label)
        return [found[key] for key in _keys(values)]


def _values(labels: Any) -> list:
    return labels.tolist() if hasattr(labels, "tolist") else list(labels)


def _keys(values: list):
    # By type and value: True and 1 are one class, but each keeps its own checked form.
    return ((type(value), value) for value in values)


def _each_distinct(values: list, apply) -> dict:
    """``apply`` to each distinct label once, in order of first appearance (a stream's
    labels repeat: validating each distinct one is enough), by :func:`_keys`."""
    try:
        distinct = dict.fromkeys(_keys(values))
    except TypeError:  # an unhashable label: refused by check_label, in its place
        for value in values:
            check_label(value)
        raise
    return {key: apply(key[1]) for key in distinct}
