"""MovieLens 100K: 100,000 ratings (1–5) of 1,682 movies by 943 users, 1997–1998
(GroupLens; Harper & Konstan 2015). Its licence does not allow redistribution, so it is not
shipped: :func:`load` reads ``ml-100k.inter.gz`` (the RecBole layout: tab-separated
``user_id:token``, ``item_id:token``, ``rating:float``, ``timestamp:float``) from the folder
given, else ``$STREAMLEARN_DATA``, else ``~/.streamlearn/data``, else ``../shared/datasets``,
and sorts the ratings by time (the file is not in time order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

FILE = "ml-100k.inter.gz"


@dataclass
class Ratings:
    """Ratings in time order.

    Parameters
    ----------
    columns
        The ``user`` and ``item`` of each rating.
    ratings
        The ratings.
    timestamps
        When each was given (seconds since the epoch).

    Example
    -------
    >>> ratings = load(limit=1000)
    >>> len(ratings), sorted(ratings.columns), bool((ratings.ratings >= 1).all())
    (1000, ['item', 'user'], True)
    """

    columns: dict[str, np.ndarray]
    ratings: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)


def locate(name: str = FILE, folder: str | os.PathLike | None = None) -> Path:
    """The data file, from the first place that has it; a clear error names them all."""
    places = [Path(folder)] if folder else []
    if os.environ.get("STREAMLEARN_DATA"):
        places.append(Path(os.environ["STREAMLEARN_DATA"]))
    places += [
        Path.home() / ".streamlearn" / "data",
        Path.cwd().parent / "shared" / "datasets",
        Path.cwd() / "shared" / "datasets",
    ]
    for place in places:
        if (place / name).is_file():
            return place / name
    searched = ", ".join(map(str, places))
    raise FileNotFoundError(
        f"{name} not found in {searched}; download MovieLens 100K from "
        "grouplens.org and put it in one of them"
    )


def load(limit: int | None = None, folder: str | os.PathLike | None = None) -> Ratings:
    """The ratings, sorted by timestamp (ties kept in file order)."""
    options = pacsv.ParseOptions(delimiter="\t")
    types = pacsv.ConvertOptions(
        column_types={"user_id:token": pa.int64(), "item_id:token": pa.int64()}
    )
    table = pacsv.read_csv(locate(FILE, folder), parse_options=options, convert_options=types)
    order = np.argsort(table["timestamp:float"].to_numpy(), kind="stable")[:limit]
    return Ratings(
        {
            "user": table["user_id:token"].to_numpy()[order],
            "item": table["item_id:token"].to_numpy()[order],
        },
        table["rating:float"].to_numpy().astype(np.float64)[order],
        table["timestamp:float"].to_numpy()[order],
    )
