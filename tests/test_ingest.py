"""Ingest: every source type, stable ids, globs, shard packing, determinism."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from opencoder.cli import main as opencoder
from opencoder.data import ingest

from opencoder.core import shards
from opencoder.core.documents import COLUMNS, document_id
from opencoder.core import config

NOTEBOOKS = config.load()["ingest"]["notebooks"]


def read_all(out: Path) -> pl.DataFrame:
    return pl.concat([shards.read_documents(p) for p in sorted(out.glob("[0-9][0-9][0-9][0-9][0-9].parquet"))])


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.py", "a.py", True),
        ("**/*.py", "pkg/sub/a.py", True),
        ("*.py", "pkg/a.py", False),
        ("stdlib/json/**", "stdlib/json/decoder.py", True),
        ("stdlib/json/**", "stdlib/jsonx/decoder.py", False),
        ("**/__pycache__/**", "x/__pycache__/a.pyc", True),
        ("src/?.c", "src/a.c", True),
        ("src/[ab].c", "src/c.c", False),
    ],
)
def test_globs_star_stays_in_a_component_double_star_crosses(pattern, path, matches):
    assert ingest.selected(path, [pattern], []) is matches


def test_directory_source_globs_ids_shards_and_determinism(tmp_path):
    root = write_tree(tmp_path / "proj", {
        "main.py": "print('hi')\n" * 50,
        "lib/util.c": "int f(void) { return 1; }\n" * 50,
        "lib/skip_me.c": "int g;\n",
        "build/gen.py": "x = 1\n",
        "README.md": "# proj\n",
    })
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 1000, "sources": [{
        "name": "local", "type": "directory", "path": str(root),
        "include": ["**/*.py", "**/*.c", "*.md"], "exclude": ["build/**", "**/skip_*"],
    }]}
    stats = ingest.ingest(params, tmp_path / "a")
    docs = read_all(tmp_path / "a")
    assert docs.columns == COLUMNS
    assert docs["path"].to_list() == ["README.md", "lib/util.c", "main.py"]  # sorted, globs applied
    assert docs["repo"].unique().to_list() == ["proj"]
    assert docs["id"].to_list() == [document_id("local", "proj", p) for p in docs["path"]]
    assert docs.filter(pl.col("path") == "main.py")["text"][0] == "print('hi')\n" * 50
    assert docs["language"].to_list() == ["markdown", "c", "python"]
    assert docs["bytes"].to_list() == [len(t.encode()) for t in docs["text"]]
    # ~1000-byte shards: the two 600-byte files cannot share one
    assert len(list((tmp_path / "a").glob("0*.parquet"))) == stats["extra"]["shards"] == 2
    assert stats["out"]["documents"] == 3 and stats["dropped"] == {}

    ingest.ingest(params, tmp_path / "b")
    for name in sorted(os.listdir(tmp_path / "a")):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def git(repo: Path, *args: str, date: str = "2023-11-01T12:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git_repo(tmp_path) -> Path:
    repo = write_tree(tmp_path / "tool", {"tool.py": "import os\n", "docs/guide.md": "# Guide\n"})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first", date="2023-01-01T00:00:00+00:00")
    (repo / "later.go").write_text("package main\n")
    git(repo, "add", "later.go")
    git(repo, "commit", "-q", "-m", "second", date="2023-11-01T12:00:00+00:00")
    (repo / "uncommitted.py").write_text("x = 1\n")  # not in any commit: not ingested
    return repo


@pytest.mark.parametrize("as_url", [False, True])
def test_git_source_reads_the_committed_tree_with_repo_and_commit_time(tmp_path, git_repo, as_url):
    location = git_repo.as_uri() if as_url else str(git_repo)
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{"name": "gh", "type": "git", "path": location}]}
    ingest.ingest(params, tmp_path / "out")
    docs = read_all(tmp_path / "out")
    assert docs["path"].to_list() == ["docs/guide.md", "later.go", "tool.py"]
    assert set(docs["repo"]) == {f"{git_repo.parent.name}/tool" if as_url else "tool"}  # URL: owner/name
    assert set(docs["commit_time"]) == {datetime(2023, 11, 1, 12, tzinfo=timezone.utc)}
    assert docs.filter(pl.col("path") == "tool.py")["text"][0] == "import os\n"


def test_git_repo_name_from_url():
    assert ingest._repo_name("https://github.com/owner/name.git") == "owner/name"
    assert ingest._repo_name("git@github.com:owner/name.git") == "owner/name"


def stack_v2_rows():
    return [
        {"content": "def a():\n    return 1\n", "path": "pkg/a.py", "repo_name": "o/r1",
         "star_events_count": 10, "committer_date": "2023-05-01T10:00:00Z"},
        {"content": "int main() {}\n", "path": "src/m.cpp", "repo_name": "o/r2",
         "star_events_count": None, "committer_date": None},
    ]


def test_dataset_source_parquet_and_jsonl_like_the_stack_v2(tmp_path):
    data = tmp_path / "stack"
    data.mkdir()
    pl.DataFrame(stack_v2_rows()).write_parquet(data / "part-0.parquet")
    (data / "part-1.jsonl").write_text(json.dumps({**stack_v2_rows()[0], "path": "pkg/b.py"}) + "\n")
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{"name": "stack", "type": "dataset", "path": str(data)}]}
    ingest.ingest(params, tmp_path / "out")
    docs = read_all(tmp_path / "out")
    assert docs["path"].to_list() == ["pkg/a.py", "src/m.cpp", "pkg/b.py"]  # file order, then row order
    assert docs["repo"].to_list() == ["o/r1", "o/r2", "o/r1"]
    assert docs["stars"].to_list() == [10, None, 10]
    assert docs["commit_time"][0] == datetime(2023, 5, 1, 10, tzinfo=timezone.utc)
    assert docs["commit_time"][1] is None
    assert docs["language"].to_list() == ["python", "cpp", "python"]


def test_dataset_column_names_are_configurable(tmp_path):
    file = tmp_path / "v1.parquet"
    pl.DataFrame({"body": ["x = 1\n"], "max_stars_repo_path": ["x.py"], "max_stars_repo_name": ["a/b"],
                  "max_stars_count": [3]}).write_parquet(file)
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{
        "name": "v1", "type": "dataset", "path": str(file),
        "columns": {"content": "body", "path": "max_stars_repo_path", "repo": "max_stars_repo_name",
                    "stars": "max_stars_count"},
    }]}
    ingest.ingest(params, tmp_path / "out")
    docs = read_all(tmp_path / "out")
    assert docs.select("path", "repo", "stars").row(0) == ("x.py", "a/b", 3)


def test_python_env_source_needs_no_download(tmp_path):
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{
        "name": "env", "type": "python_env",
        "include": ["stdlib/json/**", "site-packages/polars/__init__.py"], "exclude": ["**/__pycache__/**"],
    }]}
    ingest.ingest(params, tmp_path / "out")
    docs = read_all(tmp_path / "out")
    paths = docs["path"].to_list()
    assert "stdlib/json/decoder.py" in paths and "site-packages/polars/__init__.py" in paths
    assert all(p.startswith(("stdlib/json/", "site-packages/polars/")) for p in paths)
    assert docs.filter(pl.col("path") == "stdlib/json/decoder.py")["repo"][0] == "json"
    assert docs.filter(pl.col("path") == "site-packages/polars/__init__.py")["repo"][0] == "polars"
    assert docs["stars"].null_count() == docs.height


def test_cli_runs_standalone_with_params_json(tmp_path):
    root = write_tree(tmp_path / "p", {"a.py": "a = 1\n"})
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 1000, "sources": [{"name": "p", "type": "directory", "path": str(root)}]}
    assert ingest.main(["--out", str(tmp_path / "out"), "--params", json.dumps(params)]) == 0
    assert read_all(tmp_path / "out")["path"].to_list() == ["a.py"]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["stage"] == "ingest"


def test_duplicate_source_names_are_a_config_error(tmp_path, capsys):
    src = {"name": "p", "type": "directory", "path": str(tmp_path)}
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 1000, "sources": [src, src]}
    assert opencoder(["ingest", "--output", str(tmp_path / "out"), "--params", json.dumps(params)]) == 1
    assert "source names must be unique" in capsys.readouterr().err


def test_symlinks_are_not_followed_and_each_is_named(tmp_path):
    root = write_tree(tmp_path / "src", {"a.py": "a = 1\n", "pkg/b.py": "b = 2\n"})
    (root / "link.py").symlink_to(root / "a.py")
    (root / "pkg_link").symlink_to(root / "pkg", target_is_directory=True)
    (root / "skipped.txt").symlink_to(root / "a.py")  # outside the include globs: not named
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{"name": "src", "type": "directory", "path": str(root),
                                                 "include": ["**/*.py", "pkg_link/**"]}]}
    stats = ingest.ingest(params, tmp_path / "out")
    assert read_all(tmp_path / "out")["path"].to_list() == ["a.py", "pkg/b.py"]
    rejected = shards.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected.select("path", "reason").rows() == [("link.py", "symlink"), ("pkg_link/", "symlink")]
    assert stats["dropped"]["symlink"]["documents"] == 2


def test_a_source_without_files_next_to_others_is_a_warning(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    root = write_tree(tmp_path / "src", {"a.py": "a = 1\n"})
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [
        {"name": "good", "type": "directory", "path": str(root)},
        {"name": "typo", "type": "directory", "path": str(root), "include": ["**/*.pyy"]},
    ]}
    stats = ingest.ingest(params, tmp_path / "out")
    assert stats["extra"]["empty_sources"] == ["typo"]
    assert stats["extra"]["files_per_source"] == {"good": 1, "typo": 0}
    assert "ingest source 'typo': no files" in "\n".join(r.getMessage() for r in caplog.records)
