"""Reading files: formats, compression, rejects with row numbers, batches of bounded size."""

from __future__ import annotations

import gzip
import json
import lzma

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from streamlearn.streams import FileSource, detect_format

ROWS = [
    {"city": "paris", "n": 1.5, "y": 1},
    {"city": "lyon", "n": 2.0, "y": 0},
    {"city": "nice", "n": 3.0, "y": 1},
]


def write(path, rows, fmt):
    table = pa.Table.from_pylist(rows)
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_all(source):
    batches = list(source)
    features = {k: [] for k in batches[0].features}
    for batch in batches:
        for k, v in batch.features.items():
            features[k] += v.to_pylist() if isinstance(v, pa.Array) else list(v)
    target = np.concatenate([b.target for b in batches])
    rejects = [r for b in batches for r in b.rejects]
    return features, target, rejects, batches


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_formats_give_the_same_columns(tmp_path, fmt):
    path = tmp_path / f"data.{fmt}"
    write(path, ROWS * 100, fmt)
    features, target, rejects, _ = read_all(FileSource(path, "y", batch_rows=64))
    assert features["city"] == ["paris", "lyon", "nice"] * 100
    assert features["n"] == [1.5, 2.0, 3.0] * 100
    assert target.tolist() == [1.0, 0.0, 1.0] * 100
    assert rejects == []


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip.open), (".xz", lzma.open)])
def test_compressed_files(tmp_path, suffix, opener):
    plain = tmp_path / "data.csv"
    write(plain, ROWS, "csv")
    packed = tmp_path / f"data.csv{suffix}"
    with opener(packed, "wb") as fh:
        fh.write(plain.read_bytes())
    features, target, _, _ = read_all(FileSource(packed, "y"))
    assert features["city"] == ["paris", "lyon", "nice"] and target.tolist() == [1, 0, 1]


def test_csv_bad_rows_become_rejects_with_row_numbers(tmp_path):
    good = "".join(f"c{i % 3},{i},{i % 2}\n" for i in range(40))
    bad = "lyon,abc,0\nnice,3,\nrome,4,1\noslo,,x\nbern,5,0\n"
    path = tmp_path / "bad.csv"
    path.write_text("city,n,y\n" + good + bad)
    features, target, rejects, _ = read_all(FileSource(path, "y"))
    assert [(r.row, r.reason) for r in rejects] == [
        (41, "column 'n': cannot parse 'abc' as a number"),
        (42, "target 'y' is missing or not finite"),
        (44, "target 'y': cannot parse 'x' as a number"),
    ]
    assert features["city"][-2:] == ["rome", "bern"]
    assert features["n"][-2:] == [4.0, 5.0]
    assert len(target) == 42 and target[-2:].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_text_in_a_number_column_after_many_blocks(tmp_path, monkeypatch, suffix):
    """Number columns are parsed as numbers while reading; a text value blocks later sends
    the rest of the file through the text path, from the failed block on: its row is a
    reject with its row number, and no row is lost or read twice."""
    from streamlearn.streams import csv_file

    monkeypatch.setattr(csv_file, "BLOCK_BYTES", 2048)  # many blocks
    monkeypatch.setattr(csv_file, "HEAD_BYTES", 1024)  # the sample sees only numbers
    lines = [f"c{i % 3},{i},{i % 2}" for i in range(1, 3001)]
    lines[2499] = "lyon,abc,1"
    lines[2699] = "nice,7,"
    path = tmp_path / f"late.csv{suffix}"
    with (gzip.open if suffix else open)(path, "wt") as fh:
        fh.write("city,n,y\n" + "\n".join(lines) + "\n")
    features, target, rejects, batches = read_all(FileSource(path, "y"))
    assert len(batches) > 10
    assert [(r.row, r.reason) for r in rejects] == [
        (2500, "column 'n': cannot parse 'abc' as a number"),
        (2700, "target 'y' is missing or not finite"),
    ]
    kept = [i for i in range(1, 3001) if i not in (2500, 2700)]
    assert features["n"] == [float(i) for i in kept]
    assert target.tolist() == [float(i % 2) for i in kept]
    assert features["city"][:3] == ["c1", "c2", "c0"]
    assert [row for b in batches for row in b.rows.tolist()] == kept


def test_mostly_text_columns_are_categorical(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,y\n" + "".join(f"{'A' if i % 3 else ''}{i},1\n" for i in range(30)))
    features, _, rejects, _ = read_all(FileSource(path, "y"))
    assert rejects == [] and features["code"][:2] == ["0", "A1"]


def test_jsonl_bad_lines_become_rejects(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [
        '{"a": 1, "y": 1}',
        "not json",
        "[1, 2]",
        '{"a": "text", "y": 0}',
        '{"a": {"nested": 1}, "y": 1}',
        '{"a": 2.5, "y": 0}',
        '{"a": 3}',
    ]
    path.write_text("\n".join(lines) + "\n")
    features, target, rejects, _ = read_all(FileSource(path, "y"))
    assert [r.row for r in rejects] == [2, 3, 4, 5, 7]
    assert "invalid JSON" in rejects[0].reason
    assert "expected int, got str" in rejects[2].reason
    assert features["a"] == [1.0, 2.5] and target.tolist() == [1.0, 0.0]


def test_missing_target_column_and_unknown_format_are_clear_errors(tmp_path):
    path = tmp_path / "data.csv"
    write(path, ROWS, "csv")
    with pytest.raises(KeyError, match="no target column 'label'"):
        list(FileSource(path, "label"))
    with pytest.raises(FileNotFoundError):
        FileSource(tmp_path / "nope.csv", "y")
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format("data.xlsx")
    assert detect_format("a/b.JSONL.gz") == ("jsonl", ".gz")


def test_batches_are_bounded_and_offsets_advance(tmp_path):
    path = tmp_path / "big.jsonl"
    write(path, ROWS * 1000, "jsonl")
    _, _, _, batches = read_all(FileSource(path, "y", batch_rows=500))
    assert max(len(b) for b in batches) == 500
    assert [b.end_row for b in batches] == list(range(500, 3001, 500))
    assert batches[1].rows[0] == 501


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz"])
def test_abandoned_and_failed_reads_leave_no_thread_behind(tmp_path, suffix):
    # A reader stopped early, or a file whose target is missing, must not hang the process
    # at exit (Arrow's read-ahead thread once did, on a Python file object).
    import subprocess
    import sys

    plain = tmp_path / "data.csv"
    write(plain, ROWS * 200_000, "csv")
    path = tmp_path / f"data.csv{suffix}"
    if suffix:
        opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": __import__("bz2").open}[suffix]
        with opener(path, "wb") as fh:
            fh.write(plain.read_bytes())
    code = (
        "import sys; from streamlearn.streams import FileSource\n"
        f"it = iter(FileSource({str(path)!r}, 'y')); next(it); it.close()\n"
        f"try:\n    next(iter(FileSource({str(path)!r}, 'nope')))\n"
        "except KeyError:\n    sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert result.returncode == 3


def test_a_reject_quotes_a_huge_value_cut_short(tmp_path):
    """Twenty rows of 100 kB each: twenty short reasons, not 2 MB of dead letters."""
    from streamlearn.streams import FileSource, RejectLog

    path = tmp_path / "huge.csv"
    huge = f"{'9' * 50_000}abc{'9' * 50_000}"  # not a number, in a column of numbers
    rows = ["x,y"] + ["1,0"] * 5000 + [f"{huge},1"] * 20 + ["2,1"] * 5
    path.write_text("\n".join(rows) + "\n")
    log = RejectLog(tmp_path / "rejects.jsonl")
    for batch in FileSource(path, "y"):
        log.add(batch.rejects)
    log.close()
    assert log.count == 20
    assert (tmp_path / "rejects.jsonl").stat().st_size < 20 * 400
    assert all("cannot parse" in r.reason and len(r.reason) <= 300 for r in log.first)


def test_ragged_rows_and_bytes_that_are_not_utf8_are_rejects_not_the_end(tmp_path):
    """Too few or too many fields, or text that is not UTF-8: that row is a reject with its
    number; every other row is read, under its own number, and a run learns them all."""
    from streamlearn.models import LogisticRegression
    from streamlearn.runner import Runner
    from streamlearn.streams import FileEvents

    lines = [b"colour,size,y"]
    bad = {}
    for row in range(1, 3001):
        if row % 500 == 7:
            lines.append(b"red,1")  # a field short
            bad[row] = "2 fields where the header has 3"
        elif row % 500 == 9:
            lines.append(b"red,1,0,extra")
            bad[row] = "4 fields where the header has 3"
        elif row % 500 == 11:
            lines.append(b"r\xffd,1,0")
            bad[row] = "column 'colour': not UTF-8 text"
        else:
            lines.append(b"%s,%d,%d" % ([b"red", b"blue"][row % 2], row % 5, row % 2))
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    batches = list(FileSource(path, "y"))
    rows = np.concatenate([b.rows for b in batches])
    rejects = {r.row: r.reason for b in batches for r in b.rejects}
    assert rejects == bad
    assert sorted(rows.tolist()) == [r for r in range(1, 3001) if r not in bad]
    targets = np.concatenate([b.target for b in batches])
    np.testing.assert_array_equal(targets, rows % 2)  # each row under its own number

    from streamlearn.registry import LocalRegistry

    def runner():
        registry = LocalRegistry(tmp_path / "registry")
        events = FileEvents(path, "y")
        return Runner(LogisticRegression(bits=10), events, registry=registry, micro_batch=256)

    first = runner().run(limit=1024)  # four micro-batches, past the first bad rows
    summary = runner().run()
    assert summary.resumed_from is not None
    assert first.served == 1024 and summary.served == summary.learned == 3000 - len(bad)
    assert summary.rejected == len(bad)


def test_a_ragged_row_that_is_not_utf8_either_is_one_reject(tmp_path):
    """Arrow's reader cannot hand such a row over: the rest of the file is read by Python's,
    and every other row is read under its own number, in the first megabyte or later."""
    for at in (5, 40_000):  # in the sample the types come from, and far after it
        lines = [b"colour,size,y"] + [
            b"%s,%d,%d" % (b"red", r % 5, r % 2) for r in range(1, 60_001)
        ]
        lines[at] = b"\xffr\xfe,1,0,extra"
        path = tmp_path / f"both-{at}.csv"
        path.write_bytes(b"\n".join(lines) + b"\n")
        batches = list(FileSource(path, "y"))
        rows = np.concatenate([b.rows for b in batches])
        rejects = {r.row: r.reason for b in batches for r in b.rejects}
        assert rejects == {at: "4 fields where the header has 3"}
        assert rows.tolist() == [r for r in range(1, 60_001) if r != at]
        np.testing.assert_array_equal(np.concatenate([b.target for b in batches]), rows % 2)


def test_an_unclosed_quote_is_one_reject_and_the_lines_after_it_are_read(tmp_path):
    lines = ["colour,size,y"] + [f"red,{r % 5},{r % 2}" for r in range(1, 101)]
    lines[50] = 'red,"1,0'
    lines[70] = "red,1"  # ragged, among the lines the quote took
    path = tmp_path / "quote.csv"
    path.write_text("\n".join(lines) + "\n")
    batches = list(FileSource(path, "y"))
    rejects = {r.row: r.reason for b in batches for r in b.rejects}
    assert sorted(rejects) == [50, 70] and "unclosed quote" in rejects[50]
    rows = np.concatenate([b.rows for b in batches])
    assert rows.tolist() == [r for r in range(1, 101) if r not in (50, 70)]
    np.testing.assert_array_equal(np.concatenate([b.target for b in batches]), rows % 2)


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".jsonl.gz"])
def test_a_truncated_compressed_file_is_read_to_its_cut(tmp_path, suffix):
    import bz2

    n = 300_000  # bzip2 compresses 900 kB blocks: a cut one holds nothing to read
    rows = [{"colour": ["red", "blue"][r % 2], "size": r % 5, "y": r % 2} for r in range(n)]
    text = (
        "colour,size,y\n" + "".join(f"{r['colour']},{r['size']},{r['y']}\n" for r in rows)
        if suffix.startswith(".csv")
        else "".join(json.dumps(r) + "\n" for r in rows)
    ).encode()
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
    data = compress[suffix[suffix.rindex(".") :]](text)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    batches = list(FileSource(path, "y"))
    read = sum(len(b) for b in batches)
    rejects = [r for b in batches for r in b.rejects]
    assert any("compressed data ends early" in r.reason for r in rejects)
    assert 0.3 * len(rows) < read < 0.7 * len(rows)
    rows_read = np.concatenate([b.rows for b in batches])
    assert rows_read.tolist() == list(range(1, read + 1))
