"""BigCodeBench: problems read from files in the release's own format (the Hub rows of
bigcode/bigcodebench and bigcode/bigcodebench-hard: libs as the release stores them, a unittest
module per problem), judged in the sandbox with the environment's libraries: a canonical solution
using numpy and polars passes, a wrong one fails with its assertion's message, a slow one times out,
a problem needing a library that is not installed is "unavailable", and a solution reaching for the
network or the host's files is contained."""

from __future__ import annotations

import importlib.util
import json
import socket
import tempfile
import threading
from pathlib import Path

import polars as pl
import pytest

from opencoder.core import config
from opencoder.evaluation import benchmarks, bigcodebench, prompts
from opencoder.evaluation.benchmarks import BenchmarkError
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score

MISSING_LIB = "wordninja"  # a BigCodeBench library this environment does not install


def row(number: int, body: str, test: str, libs: list[str], imports: str = "import numpy as np\nimport polars as pl\n",
        doc: str = "Make a frame of n rows, column x = 0..n-1 and y = x squared.") -> dict:
    signature = "def task_func(n):\n"
    docstring = f'    """\n    {doc}\n\n    Requirements:\n    - numpy\n    - polars\n    """\n'
    return {
        "task_id": f"BigCodeBench/{number}",
        "complete_prompt": imports + "\n" + signature + docstring,
        "instruct_prompt": f"{doc}\nThe function should output with:\n    DataFrame: the frame.\n"
                           f"You should write self-contained code starting with:\n```\n{imports}{signature}```",
        "canonical_solution": body,
        "code_prompt": imports + signature,
        "test": test,
        "entry_point": "task_func",
        "libs": repr(libs),  # the release stores the list's repr
        "doc_struct": json.dumps({"description": [doc]}),
    }


FRAME_BODY = "    x = np.arange(n)\n    return pl.DataFrame({'x': x, 'y': x * x})\n"
FRAME_TEST = '''import unittest
import polars as pl


class TestCases(unittest.TestCase):
    def test_shape(self):
        frame = task_func(4)
        self.assertIsInstance(frame, pl.DataFrame)
        self.assertEqual(frame.shape, (4, 2))

    def test_values(self):
        self.assertEqual(task_func(3)["y"].to_list(), [0, 1, 4], "y is not x squared")
'''
SLOW_TEST = '''import unittest


class TestCases(unittest.TestCase):
    def test_returns(self):
        self.assertEqual(task_func(1), 1)
'''


def release_rows() -> list[dict]:
    return [
        row(0, FRAME_BODY, FRAME_TEST, ["numpy", "polars"]),
        row(1, "    import wordninja\n    return wordninja.split('helloworld')\n", SLOW_TEST, [MISSING_LIB, "numpy"]),
        row(2, "    return n\n", SLOW_TEST, ["numpy"], imports="import numpy as np\n"),
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(timeout_s=10, memory_mb=2048, nproc=32, file_size_mb=8))


@pytest.fixture
def release(tmp_path):
    assert importlib.util.find_spec(MISSING_LIB) is None
    return write_jsonl(tmp_path / "BigCodeBench-v0.1.4.jsonl", release_rows())


def load(path, name="bigcodebench", instruct=False, **spec):
    return benchmarks.load({"name": name, "path": str(path), **spec}, instruct=instruct)


def test_canonical_passes_wrong_fails_missing_library_unavailable_slow_times_out(release, sandbox):
    frame, needs_missing, simple = load(release, timeout_s=10.0)  # the canonical solution's imports took >3 s at load 10
    assert needs_missing.modules == (MISSING_LIB, "numpy", "unittest")
    wrong = "    x = np.arange(n)\n    return pl.DataFrame({'x': x, 'y': x + x})\n"
    slow = "    while True:\n        pass\n"
    results, summary = score([frame, needs_missing, simple],
                             {frame.task_id: [frame.reference, wrong], needs_missing.task_id: [needs_missing.reference],
                              simple.task_id: [slow, "    return n\n"]}, sandbox)
    assert [r["result"] for r in results] == [
        "passed",
        "failed: test_values: AssertionError: Lists differ: [0, 2, 4] != [0, 1, 4] ... : y is not x squared",
        f"unavailable: missing modules {MISSING_LIB}",
        "timed out",
        "passed",
    ]
    # the unavailable problem counts in no pass@k: 2 problems, each 1 of 2 passing
    assert summary["pass@1"] == pytest.approx(0.5)
    assert summary["not_evaluated"].startswith(f"1 of 5 samples: unavailable: missing modules {MISSING_LIB}")


def test_errors_and_broken_modules_fail_with_their_first_message(release, sandbox):
    frame = load(release)[0]
    raising = "    raise ValueError('no frame today')\n"
    exiting = "    pass\nimport sys\nsys.exit(0)\n"
    results, _ = score([frame], {frame.task_id: [raising, exiting, "    return (\n"]}, sandbox)
    assert results[0]["result"] == "failed: error in test_shape: ValueError: no frame today"
    assert results[1]["result"] == "failed: error while loading: SystemExit: 0"
    assert results[2]["result"].startswith("failed: error while loading: SyntaxError")


def test_network_and_host_writes_are_contained(release, sandbox, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    reached = []
    threading.Thread(target=lambda: reached.append(_accept(server)), daemon=True).start()
    target = tmp_path / "escaped.txt"
    probe = (f"    import socket, urllib.request\n    out = {{}}\n"
             f"    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=2); out['local'] = True\n"
             f"    except OSError as exc:\n        out['local'] = type(exc).__name__\n"
             f"    try:\n        urllib.request.urlopen('http://example.com', timeout=2); out['web'] = True\n"
             f"    except Exception as exc:\n        out['web'] = type(exc).__name__\n"
             f"    for path in ({str(target)!r}, '/usr/escaped.txt', {str(bigcodebench.__file__)!r}):\n"
             f"        try:\n            open(path, 'a').write('x'); out[path] = True\n"
             f"        except OSError as exc:\n            out[path] = type(exc).__name__\n"
             f"    open('/tmp/inside.txt', 'w').write('fine')\n"
             f"    return out\n")
    test = ("import unittest\n\n\nclass TestCases(unittest.TestCase):\n    def test_contained(self):\n"
            "        out = task_func(0)\n        self.assertNotIn(True, out.values(), out)\n")
    problem = bigcodebench.problem({**release_rows()[0], "test": test}, "fixture", "complete")
    results, _ = score([problem], {problem.task_id: [probe]}, sandbox)
    assert results[0]["result"] == "passed"  # every attempt failed inside, /tmp was writable
    assert not target.exists() and not Path("/usr/escaped.txt").exists()
    assert "open(path" not in Path(bigcodebench.__file__).read_text()
    server.close()
    assert reached in ([], [None])


def test_site_packages_under_tmp_stay_visible(release):
    """A virtual environment under /tmp (a checkout there) is not hidden by the sandbox's own /tmp."""
    with tempfile.TemporaryDirectory(dir="/tmp") as root:  # readable by the sandbox's user, as a clone is
        Path(root).chmod(0o755)
        site = Path(root) / "site-packages"
        site.mkdir()
        (site / "probe_site_lib.py").write_text("VALUE = 7\n")
        test = ("import unittest\nimport probe_site_lib\n\n\nclass TestCases(unittest.TestCase):\n"
                "    def test_value(self):\n        self.assertEqual(task_func(0), probe_site_lib.VALUE)\n")
        problem = bigcodebench.problem(row(3, "    return 7\n", test, [], imports=""), "fixture", "complete")
        box = Sandbox(Limits(timeout_s=10, memory_mb=2048, nproc=32, file_size_mb=8), site_dirs=[str(site)])
        # two samples in one batch: emptying /tmp after the first leaves the bind for the second
        results, _ = score([problem], {problem.task_id: ["    return 7\n", "    return 8\n"]}, box)
        assert [r["result"][:6] for r in results] == ["passed", "failed"], results
        assert (site / "probe_site_lib.py").exists()


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


def test_complete_and_instruct_prompts(release):
    base = load(release)[0]
    assert base.prompt == release_rows()[0]["complete_prompt"] and base.prompt.endswith('"""\n')
    assert "\ndef " in base.stop and "\nif __name__" in base.stop
    chat = load(release, instruct=True)[0]  # a chat model gets the instruct split by default
    assert chat.split == "instruct" and chat.prompt == release_rows()[0]["instruct_prompt"]
    user, reply = chat.instruct_messages()
    assert user["content"] == f"{prompts.INSTRUCT_REQUEST}\n{release_rows()[0]['instruct_prompt'].strip()}\n"
    assert reply == {"role": "assistant", "content": f"{prompts.INSTRUCT_REPLY}\n```python\n"}
    complete_chat = load(release, instruct=True, split="complete")[0]
    assert complete_chat.instruct_messages()[0]["content"] == (
        f"{prompts.INSTRUCT_REQUEST}\n```\n{release_rows()[0]['complete_prompt'].strip()}\n```\n")
    assert prompts.prompt_hash([base.prompt]) != prompts.prompt_hash([chat.instruct_messages()])
    with pytest.raises(BenchmarkError, match="split 'test': BigCodeBench's splits are complete, instruct"):
        load(release, split="test")


def test_an_instruct_reply_is_judged_calibrated(release, sandbox):
    chat = load(release, instruct=True)[0]
    reply = "def task_func(n):\n    x = np.arange(n)\n    return pl.DataFrame({'x': x, 'y': x ** 2})\n```\nDone."
    results, _ = score([chat], {chat.task_id: [reply]}, sandbox, instruct=True)
    assert results[0]["result"] == "passed"  # the imports came from code_prompt


def test_hard_subset_from_a_folder_parquet_and_the_hub_id(tmp_path):
    folder = tmp_path / "release"
    write_jsonl(folder / "BigCodeBench-v0.1.4.jsonl", release_rows())
    pl.DataFrame(release_rows()[2:]).write_parquet(folder / "BigCodeBench-Hard-v0.1.4.parquet")
    assert [p.task_id for p in load(folder)] == ["BigCodeBench/0", "BigCodeBench/1", "BigCodeBench/2"]
    hard = load(folder, name="bigcodebench_hard")
    assert [p.task_id for p in hard] == ["BigCodeBench/2"] and hard[0].libs == ("numpy",)
    with pytest.raises(BenchmarkError, match="subset 'hard' does not fit the benchmark"):
        load(folder, subset="hard")
    with pytest.raises(BenchmarkError, match="bigcode/bigcodebench-hard.*not the full subset's release"):
        benchmarks.load({"name": "bigcodebench", "hub_id": "bigcode/bigcodebench-hard"})
    write_jsonl(folder / "BigCodeBench-v0.1.3.jsonl", release_rows()[:1])
    assert len(load(folder, version="v0.1.3")) == 1
    with pytest.raises(BenchmarkError, match="more than one BigCodeBench full release file"):
        load(folder)


def test_a_malformed_row_is_named_by_file_and_row(tmp_path):
    rows = release_rows()
    del rows[1]["test"]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(BenchmarkError, match=rf"{path}: row 2: missing field\(s\) test"):
        load(path)
    rows = release_rows()
    rows[2]["libs"] = "numpy, polars"
    with pytest.raises(BenchmarkError, match=r"bad2.jsonl: row 3: libs 'numpy, polars' is not a list"):
        load(write_jsonl(tmp_path / "bad2.jsonl", rows))
    with pytest.raises(BenchmarkError, match="mbpp: timeout_s apply to bigcodebench, bigcodebench_hard only"):
        benchmarks.load({"name": "mbpp", "path": str(path), "timeout_s": 3})


def test_canonical_warns_below_the_rate_and_default_config_skips(release, tmp_path, capsys):
    params = config.load()["eval"]
    for name in ("bigcodebench", "bigcodebench_hard"):
        spec = next(b for b in params["benchmarks"] if b["name"] == name)
        assert benchmarks.available(spec).startswith(f"{name}: skipped, no data")
    rows = release_rows()
    rows[2]["canonical_solution"] = "    return n + 1\n"  # a wrong ground truth: 1 of 2 evaluated pass
    path = write_jsonl(tmp_path / "gt.jsonl", rows)
    from opencoder.cli import main as opencoder_main

    argv = ["--benchmark", "bigcodebench", "--data", str(path), "--canonical", "--output", str(tmp_path / "out"),
            "--threads", "1", "--params", json.dumps(params)]
    assert opencoder_main(["eval", *argv]) == 0  # BigCodeBench warns, it does not refuse
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["evaluated"] == 2 and summary["passed"] == 1 and summary["pass_rate"] == 0.5
    assert summary["gate"].startswith("warned: rate 0.500 < 0.95")
    assert "1/2 reference solutions pass (1 unavailable: libraries or toolchain missing)" in capsys.readouterr().out


def test_bad_config_values_are_schema_errors():
    cfg = config.load()
    for bad in ({"subset": "medium"}, {"memory_mb": 1}):
        cfg["eval"]["benchmarks"] = [{"name": "bigcodebench", **bad}]
        with pytest.raises(Exception, match=r"medium|1 is less"):
            config.validate(cfg)
