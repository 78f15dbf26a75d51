"""dedup.level (opencoder.data.dedup.units): file, repository and chunk dedup on constructed corpora with
a known answer, run through the workflow's steps in the rules' order (rules/dedup.smk)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from dedup_corpus import as_code, edit, words
from opencoder.core import shards
from opencoder.core.documents import SCHEMA, document_id
from opencoder.data.dedup import exact, units
from opencoder.data.dedup.fuzzy import cli as fuzzy
from opencoder.data.dedup.fuzzy.params import FuzzyParams

PARAMS = FuzzyParams.from_config({"num_perm": 256, "threshold": 0.8, "lsh_jobs": 2})


def repo(name: str, files: dict[str, str], stars: int, day: int = 1) -> list[dict]:
    return [{"id": document_id("src", name, path), "text": text, "path": path, "language": "python",
             "doc_type": "code", "repo": name, "stars": stars, "commit_time": datetime(2024, 1, day, tzinfo=timezone.utc),
             "source": "src", "bytes": len(text.encode()), "url": None, "domain": None} for path, text in files.items()]


def write_shards(folder: Path, *parts: list[dict]) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i, rows in enumerate(parts):
        paths.append(folder / f"{i:05d}.parquet")
        shards.write_parquet(pl.DataFrame(rows, schema=SCHEMA), paths[-1])
    return paths


def run(tmp: Path, inputs: list[Path], level: str, chunk_tokens: int = 4096, pads: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept files, dropped records) over all shards, each step as its rule runs it. `pads`: that many empty
    shards after `inputs`, as the workflow pads the last batch of a job (resources.shards_per_job): through
    every per-shard step, read by no whole-build one (index, plan, buckets, clusters)."""
    real = len(inputs)
    for i in range(pads):
        inputs = [*inputs, inputs[0].with_name(f"{real + i:05d}.parquet")]
        shards.write_parquet(pl.DataFrame(schema=SCHEMA), inputs[-1])
    names = [p.name.split(".")[0] for p in inputs]
    docs = inputs
    if level != "file":
        docs = [tmp / "units" / f"{n}.parquet" for n in names]
        units.run_index(inputs[:real], tmp / "units" / "index")
        for inp, out in zip(inputs, docs):
            units.run_units(inp, tmp / "units" / "index", out, out.with_suffix(".members.parquet"),
                            {"level": level, "chunk_tokens": chunk_tokens})
    members = [d.with_suffix(".members.parquet") for d in docs] if level != "file" else [None] * len(docs)
    hashes = [tmp / "hashes" / f"{n}.parquet" for n in names]
    for doc, out in zip(docs, hashes):
        exact.run_hashes(doc, out)
    exact.run_plan(hashes[:real], tmp / "exact" / "removed.parquet")
    exact_out = [tmp / "exact" / f"{n}.parquet" for n in names]
    for doc, out, member in zip(docs, exact_out, members):
        exact.run_apply(doc, tmp / "exact" / "removed.parquet", out, members=member)
    keys = [tmp / "sig" / f"{n}.keys.parquet" for n in names]
    metas = [tmp / "sig" / f"{n}.docs.parquet" for n in names]
    for doc, k, m in zip(exact_out, keys, metas):
        fuzzy.run_signatures(doc, k, m, PARAMS)
    edges = [tmp / "buckets" / f"{part:03d}.parquet" for part in range(len(PARAMS.band_ranges()))]
    for part, out in enumerate(edges):
        fuzzy.run_buckets(keys[:real], part, out, PARAMS)
    clusters = tmp / "fuzzy" / "clusters.parquet"
    fuzzy.run_clusters(edges, metas[:real], exact_out[:real], clusters, tmp / "fuzzy" / "removed.parquet", tmp / "fuzzy" / "c.json", PARAMS)
    kept, dropped = [], []
    for name, inp, ex, member in zip(names, inputs, exact_out, members):
        out, drop = tmp / "out" / f"{name}.parquet", tmp / "out" / f"{name}.dropped.parquet"
        if level == "file":
            fuzzy.run_remove(ex, clusters, out, dropped_out=drop, files=inp, exact_removed=tmp / "exact" / "removed.parquet")
        else:
            units.run_apply(inp, [member], tmp / "exact" / "removed.parquet", clusters, out, drop, {"level": level},
                            index=tmp / "units" / "index")
        kept.append(shards.read_parquet(out))
        dropped.append(shards.read_parquet(drop))
    return pl.concat(kept), pl.concat(dropped)


def exact_removed(tmp: Path) -> set[str]:
    return set(shards.read_parquet(tmp / "exact" / "removed.parquet")["id"])


@pytest.fixture
def texts():
    rng = random.Random(7)
    return [as_code(words(rng, 300)) for _ in range(6)]


def test_two_repositories_with_the_same_files_repository_level_removes_one(tmp_path, texts):
    same = {"a.py": texts[0], "b.py": texts[1], "c.py": texts[2]}
    inputs = write_shards(tmp_path / "in", repo("org/popular", same, stars=50), repo("fork/copy", same, stars=2))
    kept, dropped = run(tmp_path / "repository", inputs, "repository")
    assert set(kept["repo"]) == {"org/popular"} and kept.height == 3
    assert dropped.height == 3 and set(dropped["repo"]) == {"fork/copy"}
    assert set(dropped["reason"]) == {"exact_repository"} and set(dropped["kept_unit"]) == {"org/popular"}
    assert exact_removed(tmp_path / "repository") == {"fork/copy"}  # the exact step's record: the repository


def test_two_repositories_sharing_one_file_repository_level_keeps_both_file_level_drops_the_copy(tmp_path, texts):
    one = repo("org/one", {"shared.py": texts[0], "own.py": texts[1]}, stars=9)
    two = repo("org/two", {"shared.py": texts[0], "other.py": texts[2]}, stars=3)
    inputs = write_shards(tmp_path / "in", one, two)
    kept, dropped = run(tmp_path / "repository", inputs, "repository")
    assert kept.height == 4 and dropped.height == 0
    kept, dropped = run(tmp_path / "file", inputs, "file")
    assert kept.height == 3 and exact_removed(tmp_path / "file") == {document_id("src", "org/two", "shared.py")}


def test_near_duplicate_repositories_go_by_minhash_at_repository_level(tmp_path, texts):
    rng = random.Random(3)
    original = {"a.py": texts[0], "b.py": texts[1], "c.py": texts[2]}
    edited = {**original, "b.py": as_code(edit(texts[1].split(" = "), rng, changes=2))}  # near, not equal
    other = {"x.py": texts[3]}
    inputs = write_shards(tmp_path / "in", repo("org/old", original, stars=4, day=1) + repo("org/other", other, stars=1),
                          repo("org/new", edited, stars=4, day=9))
    kept, dropped = run(tmp_path / "repository", inputs, "repository")
    assert set(kept["repo"]) == {"org/new", "org/other"}  # equal stars: the latest commit wins
    assert dropped.height == 3 and set(dropped["reason"]) == {"fuzzy_repository"}
    assert set(dropped["kept_unit"]) == {"org/new"}
    assert not exact_removed(tmp_path / "repository")
    # file level: a.py and c.py are exact copies, b.py a near one (each record names the kept file)
    kept, dropped = run(tmp_path / "file", inputs, "file")
    assert kept.height == 4 and len(exact_removed(tmp_path / "file")) == 2
    assert dropped.select("path", "repo", "reason", "kept_unit").rows() == [
        (path, "org/old", reason, document_id("src", "org/new", path))
        for path, reason in [("a.py", "exact_file"), ("b.py", "fuzzy_file"), ("c.py", "exact_file")]]


def test_a_repository_split_over_shards_is_one_unit(tmp_path, texts):
    files = {"a.py": texts[0], "b.py": texts[1]}
    big = repo("org/big", files, stars=7)
    copy = repo("org/copy", files, stars=1)
    inputs = write_shards(tmp_path / "in", big[:1], big[1:] + copy)
    kept, dropped = run(tmp_path / "repository", inputs, "repository")
    assert set(kept["repo"]) == {"org/big"} and kept.height == 2
    assert set(dropped["repo"]) == {"org/copy"}
    stats = [shards.read_json(tmp_path / "repository" / "exact" / f"0000{i}.stats.json") for i in (0, 1)]
    assert [s["extra"]["units"] for s in stats] == [1, 1]  # org/big where its first file is, org/copy in shard 1
    assert sum(s["in"]["documents"] for s in stats) == 4 and sum(s["out"]["documents"] for s in stats) == 2
    # the last step of shard 0 reads its own members file; shard 1's, org/big's too (where it starts)
    folder = tmp_path / "repository" / "units"
    assert [[f.name for f in units.member_files(folder / f"0000{i}.members.parquet", folder / "index")] for i in (0, 1)] == [
        ["00000.members.parquet"], ["00000.members.parquet", "00001.members.parquet"]]


@pytest.mark.parametrize("level", ["file", "repository", "chunk"])
def test_empty_shards_read_by_no_whole_build_step_pass_every_per_shard_step_and_change_nothing(tmp_path, texts, level):
    """The pads of a last batch (resources.shards_per_job): empty shards in no units index, exact plan or
    clustering go through units, hashes, apply, signatures and removal as empty shards."""
    files = {"a.py": texts[0], "b.py": texts[1]}
    inputs = write_shards(tmp_path / "in", repo("org/big", files, stars=7), repo("org/copy", files, stars=1))
    kept, dropped = run(tmp_path / "plain", inputs, level)
    padded = run(tmp_path / "padded", inputs, level, pads=2)
    assert padded[0].equals(kept) and padded[1].equals(dropped) and dropped.height == 2
    assert shards.read_parquet(tmp_path / "padded" / "out" / "00003.parquet").is_empty()


def test_chunk_level_drops_files_whose_every_chunk_is_a_duplicate(tmp_path):
    # org/more = org/less's two files (100 tokens each) + one more after them (path order):
    # less's chunks are a prefix of more's, except where its last chunk ends short
    rng = random.Random(11)
    a, b, z = (" ".join(words(rng, 100)) for _ in range(3))
    less = {"a.py": a, "b.py": b}
    inputs = write_shards(tmp_path / "in", repo("org/less", less, stars=1), repo("org/more", {**less, "z.py": z}, stars=8))
    kept, dropped = run(tmp_path / "chunk50", inputs, "chunk", chunk_tokens=50)  # 4 chunks, all in org/more too
    assert set(dropped["repo"]) == {"org/less"} and dropped.height == 2
    assert set(dropped["reason"]) == {"exact_chunk"} and all(u.startswith("org/more#") for u in dropped["kept_unit"])
    assert set(kept["repo"]) == {"org/more"} and kept.height == 3
    # 60-token chunks: less's last chunk (tokens 180-199) is not in org/more, so b.py (tokens 100-199) stays
    kept, dropped = run(tmp_path / "chunk60", inputs, "chunk", chunk_tokens=60)
    assert dropped["path"].to_list() == ["a.py"] and set(dropped["repo"]) == {"org/less"}
    assert kept.height == 4
    # at repository level the two differ (one file more): both stay
    kept, dropped = run(tmp_path / "repository", inputs, "repository")
    assert kept.height == 5 and dropped.height == 0


def test_chunks_are_cut_at_whitespace_tokens():
    assert units.chunk_spans("a b  c\nd e", 2) == [(0, 3), (5, 8), (9, 10)]
    assert units.chunk_spans("", 4) == [(0, 0)]


@pytest.mark.parametrize("level", units.LEVELS)
def test_every_level_lists_both_steps_removals_in_one_place_with_the_same_columns(tmp_path, texts, level):
    """fuzzy/<shard>.dropped.parquet holds every file dedup removed, by the exact step or the fuzzy one,
    with the same columns at every level and the reason `<step>_<level>`."""
    rng = random.Random(3)
    same = {"a.py": texts[0], "b.py": texts[1], "c.py": texts[2]}
    near = {"x.py": texts[3], "y.py": texts[4], "z.py": texts[5]}
    edited = {**near, "y.py": as_code(edit(texts[4].split(" = "), rng, changes=2))}
    inputs = write_shards(tmp_path / "in", repo("org/popular", same, stars=50) + repo("org/old", near, stars=4, day=1),
                          repo("fork/copy", same, stars=2) + repo("org/new", edited, stars=4, day=9))
    kept, dropped = run(tmp_path / level, inputs, level)
    assert dropped.schema == pl.Schema(units.DROPPED_SCHEMA)
    every = set(pl.concat([shards.read_parquet(p) for p in inputs])["id"])
    assert set(kept["id"]) | set(dropped["id"]) == every and not set(kept["id"]) & set(dropped["id"])
    reasons = {f"{r}/{p}": why for p, r, why in dropped.select("path", "repo", "reason").iter_rows()}
    exact, near_copy = f"exact_{level}", f"fuzzy_{level}"
    if level == "file":  # x.py and z.py are equal in both repositories, y.py near
        assert reasons == {"fork/copy/a.py": exact, "fork/copy/b.py": exact, "fork/copy/c.py": exact,
                           "org/old/x.py": exact, "org/old/y.py": near_copy, "org/old/z.py": exact}
    else:  # one unit per repository here (a chunk holds 4,096 tokens)
        assert reasons == {"fork/copy/a.py": exact, "fork/copy/b.py": exact, "fork/copy/c.py": exact,
                           "org/old/x.py": near_copy, "org/old/y.py": near_copy, "org/old/z.py": near_copy}
