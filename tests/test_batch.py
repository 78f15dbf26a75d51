"""`opencoder batch` (a batch job's one-shard commands in one process, opencoder.core.batch): each member
runs as the command alone would, with its stderr in its own log, and the first failure ends the batch."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl

from opencoder.core.batch import members


def record(log, *args) -> bytes:
    return b"".join(os.fsencode(str(f)) + b"\0" for f in (log, len(args), *args))


def batch(stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opencoder", "batch"], input=stdin, capture_output=True)


def test_members_run_in_order_each_with_its_log_and_the_first_failure_ends_the_batch(tmp_path):
    pad = lambda n: ("preprocess", "--empty", "--output", tmp_path / f"{n}.parquet")
    stdin = (record(tmp_path / "0.log", *pad(0))
             + record(tmp_path / "1.log", "preprocess", "--input", tmp_path / "missing.parquet", "--output", tmp_path / "1.parquet")
             + record(tmp_path / "2.log", *pad(2)))
    done = batch(stdin)
    assert done.returncode == 1
    assert f"member 2 of 3 exited with 1: opencoder preprocess --input {tmp_path}/missing.parquet" in done.stderr.decode()
    assert pl.read_parquet(tmp_path / "0.parquet").height == 0  # the member before ran in full
    assert "preprocess (no documents): 0 of 0 documents out" in (tmp_path / "0.log").read_text()
    assert "missing.parquet" in (tmp_path / "1.log").read_text()  # the failing member's message, in its own log
    assert "missing.parquet" not in (tmp_path / "0.log").read_text()
    assert not (tmp_path / "2.log").exists() and not (tmp_path / "2.parquet").exists()  # none ran after it

    assert batch(record(tmp_path / "2.log", *pad(2))).returncode == 0
    assert (tmp_path / "0.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_a_usage_error_is_the_members_exit_status_2_with_its_usage_in_its_log(tmp_path):
    done = batch(record(tmp_path / "0.log", "preprocess", "--empty", "--output", tmp_path / "0.parquet", "--no-such-option"))
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-option" in (tmp_path / "0.log").read_text()


def test_damaged_input_is_named():
    assert members(record("a.log", "x", "y")) == [("a.log", ["x", "y"])]
    for stdin, problem in [
        (record("a.log", "x", "y")[:-1], "the last field is not NUL-terminated"),
        (b"a.log\0", "member 1 has no argument count"),
        (record("a.log", "x") + b"b.log\x003\0y\0", "member 2 has 1 of its 3 arguments"),
    ]:
        done = batch(stdin)
        assert done.returncode == 1
        assert done.stderr.decode().startswith(f"opencoder batch: stdin: {problem}")
