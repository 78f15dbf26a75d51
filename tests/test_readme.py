"""Every command README.md shows runs, so the README cannot drift from the code.

The commands are the lines of its ```sh blocks (split at `&&`, comments dropped) and the inline
`make ...`, `snakemake ...`, `.venv/bin/snakemake ...` and `opencoder ...` spans outside other code
blocks. Each runs as written where that is quick, else in a dry-run form of the same command:

- `make run [VAR=...]`: the same make line with the set-up taken as done (`-o setup`, the test's own
  environment as VENV) and `SNAKEMAKE_ARGS="-n --config out_dir=<tmp>"`;
- `make test`: the same with `PYTEST_ARGS=--collect-only` (it would run this test again);
- `make setup`: `make -n setup` (it installs packages);
- `[.venv/bin/]snakemake ...`: the same arguments plus `-n --config out_dir=<tmp>`; `--report FILE`
  (which needs a finished build) is dropped;
- `opencoder ...`: as written, in a folder holding the files the README names (docs.parquet, shards/,
  data.jsonl: conversations in sft-data's format, a dedup result under results/default/fuzzy);
  `<stage>` is every stage, `<doc id or cluster>` a cluster of that result.

A command of any other program fails the test: say here how to run it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from opencoder.cli import STAGES
from opencoder.core import shards

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
INLINE = re.compile(r"`((?:make|snakemake|\.venv/bin/snakemake|opencoder) [^`]*)`")


def readme_commands(text: str) -> list[str]:
    """The commands of the README, in order."""
    commands, prose, fence = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence == "sh":
            line = line.split(" #", 1)[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
        elif fence is None:
            prose.append(line)
    return list(dict.fromkeys(commands + INLINE.findall("\n".join(prose))))


def test_the_readme_shows_commands():
    commands = readme_commands((REPO / "README.md").read_text())
    assert "make run CONFIG=config/smoke.yaml" in commands and "opencoder <stage> --help" in commands
    assert len(commands) >= 15


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, documents_module) -> Path:
    """A folder with the inputs the README's `opencoder` examples name."""
    root = tmp_path_factory.mktemp("readme")
    base = "".join(f"value_{i} = compute({i}, {i * 7 % 13}, 'item {i}')\n" for i in range(600))
    near = base.replace("value_300 = ", "value_300b = ")  # one word of 3,000: a near duplicate
    docs = documents_module([{"path": f"{name}.py", "text": text} for name, text in
                             [("a", base), ("b", near), ("c", "import os\n\nprint(os.getcwd())\n"), ("d", base)]])
    shards.write_parquet(docs, root / "docs.parquet")
    shards.write_parquet(docs.head(2), root / "shards" / "00000.parquet")
    shards.write_parquet(docs.tail(2), root / "shards" / "00001.parquet")
    conversations = [{"id": f"c{i}", "source": "mine", "file": "mine.jsonl", "row": i + 1, "messages": [
        {"role": "user", "content": request}, {"role": "assistant", "content": answer}]} for i, (request, answer) in
        enumerate([("Reverse a string.", "def rev(s):\n    return s[::-1]"),
                   ("Close elements?", "def has_close_elements(numbers, threshold):\n    return False")])]
    (root / "data.jsonl").write_text("".join(json.dumps(c) + "\n" for c in conversations))  # sft-data's format
    return root


@pytest.fixture(scope="module")
def documents_module():
    from conftest import make_documents

    return make_documents


def run(argv: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def run_make(words: list[str], out_dir: Path) -> None:
    settings = dict(word.split("=", 1) for word in words[2:])
    target = words[1]
    if target == "setup":  # installs packages: a dry run, with this test's environment as VENV
        run(["make", "-n", "setup", f"VENV={VENV}", *words[2:]], REPO)
        return
    if target == "run":
        settings["SNAKEMAKE_ARGS"] = f"{settings.get('SNAKEMAKE_ARGS', '')} -n --config out_dir={out_dir}".strip()
    elif target == "test":
        settings["PYTEST_ARGS"] = "--collect-only -q"
    else:
        pytest.fail(f"make {target}: say in tests/test_readme.py how to run it")
    result = run(["make", "-o", "setup", target, f"VENV={VENV}", *(f"{k}={v}" for k, v in settings.items())], REPO)
    assert ("Job stats" in result.stdout + result.stderr) if target == "run" else " tests collected" in result.stdout


def run_snakemake(words: list[str], out_dir: Path) -> None:
    args = [("all" if word == "<target>" else word) for word in words[1:]]
    if "--report" in args:
        i = args.index("--report")
        del args[i:i + 2]
    result = run([sys.executable, "-m", "snakemake", *args, "-n", "--config", f"out_dir={out_dir}"], REPO)
    assert "Job stats" in result.stdout + result.stderr


def run_opencoder(words: list[str], cwd: Path) -> None:
    if "<stage>" in words:
        for stage in STAGES:
            run([sys.executable, "-m", "opencoder", *(stage if w == "<stage>" else w for w in words[1:])], cwd)
        return
    if "<doc id or cluster>" in words:
        clusters = shards.read_parquet(cwd / "deduped" / "clusters.parquet")
        assert clusters.height, "the README's dedup example found no cluster to explain"
        (cwd / "results" / "default" / "fuzzy").mkdir(parents=True, exist_ok=True)
        shards.write_parquet(clusters, cwd / "results" / "default" / "fuzzy" / "clusters.parquet")
        words = [str(clusters["cluster_id"][0]) if w == "<doc id or cluster>" else w for w in words]
    run([sys.executable, "-m", "opencoder", *words[1:]], cwd)


@pytest.mark.slow  # a dozen Snakemake dry runs and the README's opencoder examples: minutes
@pytest.mark.timeout(1800)
def test_every_readme_command_runs(workdir, tmp_path):
    for command in readme_commands((REPO / "README.md").read_text()):
        # placeholders are single words for shlex
        words = shlex.split(command.replace("<doc id or cluster>", "'<doc id or cluster>'"))
        program = words[0]
        if program == "make":
            run_make(words, tmp_path / "out")
        elif program in {"snakemake", ".venv/bin/snakemake"}:
            run_snakemake(words, tmp_path / "out")
        elif program == "opencoder":
            run_opencoder(words, workdir)
        else:
            pytest.fail(f"README command {command!r}: say in tests/test_readme.py how to run it")
