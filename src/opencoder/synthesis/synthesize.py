"""`opencoder synthesize`: one recipe of synthetic data, from corpus seeds to verified, kept samples.

seeds (corpus functions, API documentation or documents) → prompts (the recipe's prompt file; a
diverse recipe's task drawn per sample) → responses (the teacher, cached by key in `--work`) → parsed
→ executed in the evaluation sandbox → passed (or unverified: nothing the sandbox can run, kept only
with the recipe's `keep_unverified`) → MinHash-deduplicated → decontaminated against the benchmarks
→ kept.

Every sample, kept or not, is a line of `samples.jsonl` with its trace (teacher identity and weights
hash or server model name, prompt-template path and hash, sampling parameters, seed, seed function)
and its outcome (the stage that rejected it and why, the sandbox status); `kept.jsonl` holds the
kept ones (`text` for annealing recipes, `instruction`/`output` for SFT recipes, with the same trace
and `verified`); `stats.json` the funnel; `examples.json` a few kept and rejected samples (the first
by sample index: `EXAMPLES` kept, `EXAMPLES_PER_STAGE` of each rejecting stage) that the build
report shows beside the funnel. A recipe that keeps nothing is not an error: its stats carry a warning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.synthesis import recipes
from opencoder.synthesis.backends import Request, Teacher, make_teacher
from opencoder.synthesis.cache import Cache, sample_key

log = logging.getLogger(__name__)
# `unverified`: parsed samples with nothing the sandbox can run (not executed, never passed); those
# kept by `keep_unverified` go on to dedup with the passed ones
FUNNEL = ("seeds", "prompts", "responses", "parsed", "executed", "passed", "unverified", "deduplicated",
          "decontaminated", "kept")
# examples.json: the report's samples, bounded whatever the recipe's size
EXAMPLES, EXAMPLES_PER_STAGE = 5, 2
REJECTING = ("response", "parse", "execution", "dedup", "decontamination")  # the stages that reject, in order


def _derived_seed(*parts) -> int:
    return int.from_bytes(hashlib.blake2b("\0".join(map(str, parts)).encode(), digest_size=4).digest(), "big")


def plan(name: str, recipe: Mapping, seed_rows: list[dict], template: recipes.Template, seed: int) -> list[dict]:
    """The recipe's samples: `samples` prompts over the seeds in a seeded order (cycled when there are
    fewer seeds than samples, each repeat with its own sampling seed); a diverse recipe's task
    (language, difficulty, task type) drawn per sample from `task` with its own derived seed."""
    if not seed_rows:
        return []
    task_cfg = recipe.get("task") if recipe["kind"] == "diverse" else None
    order = np.random.default_rng(_derived_seed(seed, name)).permutation(len(seed_rows))
    s = recipe["sampling"]
    sampling = {"temperature": float(s["temperature"]), "top_p": float(s.get("top_p", 1.0)),
                "max_new_tokens": int(s["max_new_tokens"])}
    out = []
    for i in range(recipe["samples"]):
        src = seed_rows[int(order[i % len(order)])]
        task = (recipes.draw_task(task_cfg, np.random.default_rng(_derived_seed(seed, name, i, "task")))
                if task_cfg else None)
        prompt = template.render(**recipes.prompt_values(src, task))
        out.append({"index": i, "seed": _derived_seed(seed, name, i), "source": src, "task": task,
                    "messages": [{"role": "user", "content": prompt}], "sampling": sampling})
    return out


def near_duplicates(texts: list[str], threshold: float, ngram: int, num_perm: int, seed: int = 1) -> list[int | None]:
    """For each text, the index of an earlier text it nearly duplicates (MinHash LSH candidates whose
    exact Jaccard similarity of shingles is at least `threshold`), or None."""
    from opencoder.data.dedup.fuzzy.components import jaccard
    from opencoder.data.dedup.fuzzy.minhash import band_keys, permutations, signatures
    from opencoder.data.dedup.fuzzy.params import bands_rows_for
    from opencoder.data.dedup.fuzzy.shingles import hash_batch

    if not texts:
        return []
    bands, rows = bands_rows_for(threshold, num_perm)
    batch = hash_batch(texts, ngram, "word")
    keys = band_keys(signatures(batch, *permutations(num_perm, seed)), bands, rows)
    sets = [batch.hashes[batch.offsets[i]:batch.offsets[i + 1]] for i in range(len(texts))]
    buckets: dict[tuple, list[int]] = {}
    twin: list[int | None] = []
    for i in range(len(texts)):
        found = None
        mine = [("short", int(batch.short[i]))] if batch.is_short[i] else [(b, int(keys[i, b])) for b in range(bands)]
        for k in mine:
            for j in buckets.get(k, []):
                if batch.is_short[i] or jaccard(sets[i], sets[j]) >= threshold:
                    found = j
                    break
            if found is not None:
                break
        twin.append(found)
        if found is None:
            for k in mine:
                buckets.setdefault(k, []).append(i)
    return twin


def importable(sandbox, modules: Sequence[str]) -> set[str]:
    """The modules of `modules` that the sandbox's interpreter cannot import (it runs without
    site-packages: the standard library imports, an installed package may not)."""
    from opencoder.evaluation.sandbox import Program

    outcomes = sandbox.judge_many([Program(f"import {m}\n", "") for m in modules], progress=False)
    missing = {m for m, o in zip(modules, outcomes) if not o.passed}
    for m in sorted(missing):
        log.warning("package %s does not import in the sandbox: its samples are unverified", m)
    return missing


def generate(items: list[dict], teacher_factory, identity: Mapping, template: recipes.Template, cache: Cache) -> dict:
    """Fill `item["response"]` of every item, from the cache or the teacher; returns counts. Each new
    response is in the cache before the next is asked for."""
    for it in items:
        it["key"] = sample_key(identity, template.sha256, it["messages"], it["sampling"], it["seed"])
    todo = [it for it in items if it["key"] not in cache]
    counts = {"cached": len(items) - len(todo), "requested": len(todo)}
    if todo:
        teacher = teacher_factory()
        requests = [Request(it["key"], tuple(it["messages"]), seed=it["seed"], **it["sampling"]) for it in todo]
        start, tokens = time.monotonic(), 0
        with tqdm(total=len(requests), desc="synthesize", unit="sample") as bar:
            for r in teacher.generate(requests):
                cache.put({"key": r.key, "text": r.text, "prompt_tokens": r.prompt_tokens, "tokens": r.tokens,
                           "finish": r.finish, "error": r.error, "extra": r.extra})
                tokens += r.tokens
                bar.update(1)
                elapsed = max(time.monotonic() - start, 1e-9)
                bar.set_postfix({"samples/s": f"{bar.n / elapsed:.2f}", "tokens/s": f"{tokens / elapsed:.1f}"})
    for it in items:
        it["response"] = cache.get(it["key"])
    return counts


def build(name: str, corpus: Sequence[str | Path], params: Mapping, out_dir: str | Path, work_dir: str | Path,
          threads: int = 1, teacher: Teacher | None = None) -> dict:
    """Run recipe `name` of `params` (the `synthetic` section plus `decontamination`); write
    `samples.jsonl`, `kept.jsonl`, `stats.json` into `out_dir`; return the stats."""
    from opencoder.evaluation.languages import toolchains as make_toolchains
    from opencoder.evaluation.sandbox import Limits, Sandbox
    from opencoder.training.sft.decontaminate import build_index

    started = time.monotonic()
    if name not in params["recipes"]:
        raise ConfigError(f"synthetic.recipes: no recipe {name!r} (known: {', '.join(sorted(params['recipes']))})")
    recipe = params["recipes"][name]
    kind = recipe["kind"]
    recipes.check(name, recipe)
    keep_unverified = recipe.get("keep_unverified", recipes.KEEP_UNVERIFIED[kind])
    if not corpus and kind in recipes.CORPUS_KINDS:
        raise InputError(f"synthetic.recipes.{name}: a {kind} recipe draws its seeds from the corpus: no corpus shards given (--input)")
    # diverse: task language -> the eval.languages toolchain that runs its answers (`languages` of params)
    toolchains = recipes.toolchains(recipe)
    languages = params.get("languages") or {}
    unknown = sorted(k for k in set(toolchains.values()) if k not in languages)
    if unknown:
        raise ConfigError(f"synthetic.recipes.{name}.task.toolchains: {', '.join(unknown)} not in eval.languages "
                          f"(known: {', '.join(sorted(languages)) or 'none'})")
    template = recipes.load_template(recipe["prompt"], kind)
    seed_rows = recipes.seeds(corpus, kind, recipe.get("seeds") or {})
    items = plan(name, recipe, seed_rows, template, params.get("seed", 1234))
    funnel = dict.fromkeys(FUNNEL, 0)
    funnel["seeds"], funnel["prompts"] = len(seed_rows), len(items)
    warnings = []

    cache = Cache(Path(work_dir) / "responses.jsonl")
    identity = None
    try:
        if items:
            if teacher is None:
                teacher = make_teacher(params["teacher"], threads)
            identity = teacher.identity
            counts = generate(items, lambda: teacher, identity, template, cache)
        else:
            counts = {"cached": 0, "requested": 0}
    finally:
        cache.close()

    rejected: dict[str, int] = {}

    def reject(it, stage, reason):
        it["status"], it["rejected_at"], it["reason"] = "rejected", stage, reason
        key = f"{stage}: {reason}".split(" (", 1)[0][:80]
        rejected[key] = rejected.get(key, 0) + 1

    parsed = []
    for it in items:
        resp = it["response"]
        if resp["error"]:
            reject(it, "response", resp["error"])
            continue
        funnel["responses"] += 1
        try:
            language = (it["task"] or {}).get("language", "Python")
            it["parsed"] = recipes.parse(resp["text"], kind, resp["finish"], language, toolchains.get(language),
                                         template)
        except recipes.ParseError as exc:
            reject(it, "parse", str(exc))
            continue
        funnel["parsed"] += 1
        parsed.append(it)

    runnable = [it for it in parsed if it["parsed"].unverified is None]
    if runnable:
        sandbox = Sandbox(Limits.from_config(params["sandbox"]), uid=params["sandbox"].get("uid", 65534),
                          toolchains=make_toolchains({k: languages[k] for k in set(toolchains.values())}))
        if kind == "package":  # a package the sandbox's interpreter cannot import: its samples are unverified
            missing = importable(sandbox, sorted({it["source"]["package"] for it in runnable}))
            for it in runnable:
                if it["source"]["package"] in missing:
                    it["parsed"].unverified = f"package {it['source']['package']} not importable in the sandbox"
            runnable = [it for it in runnable if it["parsed"].unverified is None]
        outcomes = sandbox.judge_many([recipes.program(it["parsed"]) for it in runnable], threads=threads,
                                      desc=f"verify {name}") if runnable else []
    else:
        outcomes = []
    for it, o in zip(runnable, outcomes):  # a toolchain that does not run here: nothing was run
        if o.status == "unavailable":
            it["parsed"].unverified = f"toolchain {it['parsed'].language} unavailable in the sandbox"
    unverified: dict[str, int] = {}
    for it in parsed:
        why = it["parsed"].unverified
        if why is None:
            continue
        it["execution"] = {"status": "unverified", "reason": why}
        funnel["unverified"] += 1
        unverified[why] = unverified.get(why, 0) + 1
        if keep_unverified:
            it["verified"] = False
        else:
            reject(it, "execution", f"unverified: {why}")
    for it, o in zip(runnable, outcomes):
        if o.status == "unavailable":
            continue
        it["execution"] = {"status": o.status, "seconds": round(o.seconds, 3)}
        if it["parsed"].language != "python":
            it["execution"]["language"] = it["parsed"].language
        funnel["executed"] += 1
        if o.passed:
            funnel["passed"] += 1
            it["verified"] = True
        else:
            reject(it, "execution", o.status)
    passed = [it for it in parsed if "verified" in it]  # passed, and unverified ones kept; in sample order

    for it in passed:
        it["payload"] = recipes.sample_text(kind, it["parsed"])
    texts = [" ".join(it["payload"].values()) for it in passed]
    d = params["dedup"]
    twins = near_duplicates(texts, d["threshold"], d["ngram"], d["num_perm"])
    unique = []
    for it, twin in zip(passed, twins):
        if twin is None:
            unique.append(it)
        else:
            reject(it, "dedup", f"near-duplicate of sample {passed[twin]['index']}")
    funnel["deduplicated"] = len(unique)

    index = build_index(params["decontamination"]) if unique else None
    kept = []
    for it in unique:
        hit = index.match(" ".join(it["payload"].values()))
        if hit is not None:
            item, how, text = hit
            reject(it, "decontamination", f"{item.benchmark}/{item.task_id} {how}: {text}")
            continue
        kept.append(it)
    funnel["decontaminated"] = funnel["kept"] = len(kept)
    for it in kept:
        it["status"] = "kept"

    tokens = {"prompt": sum(it["response"]["prompt_tokens"] for it in items),
              "generated": sum(it["response"]["tokens"] for it in items),
              "kept": sum(it["response"]["tokens"] for it in kept)}
    if not kept:
        warnings.append(f"recipe {name} kept no sample ({funnel['prompts']} prompts, {funnel['parsed']} parsed, "
                        f"{funnel['passed']} passed): whatever it feeds is left out and the mixture renormalised")
        log.warning(warnings[-1])

    def trace(it):
        row = {"teacher": identity, "template": {"path": template.path, "sha256": template.sha256},
               "sampling": it["sampling"], "seed": it["seed"], "key": it["key"],
               "seed_source": {k: v for k, v in it["source"].items() if k != "code"}}
        if it["task"] is not None:
            row["task"] = it["task"]
        return row

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for it in items:
        rows.append({"id": f"{name}-{it['index']:06d}", "recipe": name, "kind": kind, "status": it["status"],
                     "rejected_at": it.get("rejected_at"), "reason": it.get("reason"),
                     "execution": it.get("execution"), "prompt": it["messages"][0]["content"],
                     "response": it["response"]["text"], "tokens": it["response"]["tokens"],
                     "finish": it["response"]["finish"], **trace(it)})
    kept_rows = [{"id": f"{name}-{it['index']:06d}", "recipe": name, **it["payload"], **trace(it),
                  "execution": it["execution"], "verified": it["verified"]} for it in kept]
    for path, data in ((out / "samples.jsonl", rows), (out / "kept.jsonl", kept_rows)):
        with shards.atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in data),
                           encoding="utf-8")
    shards.write_json(examples(rows), out / "examples.json")
    stats = {"stage": "synthesize", "recipe": name, "kind": kind, "funnel": funnel, "tokens": tokens,
             "rejected": dict(sorted(rejected.items())), "unverified": dict(sorted(unverified.items())),
             "keep_unverified": keep_unverified, "teacher": identity,
             "template": {"path": template.path, "sha256": template.sha256},
             "algorithmic_seeds": sum(s["algorithmic"] for s in seed_rows),
             "responses_cached": counts["cached"], "responses_requested": counts["requested"],
             "wall_s": round(time.monotonic() - started, 1), "warnings": warnings}
    shards.write_json(stats, out / "stats.json")
    return stats


def examples(rows: Sequence[Mapping]) -> dict:
    """A few rows of samples.jsonl for the report, in sample order: the first `EXAMPLES` kept and the
    first `EXAMPLES_PER_STAGE` rejected at each stage (so every kind of rejection shows)."""
    fields = ("id", "status", "rejected_at", "reason", "execution", "prompt", "response", "finish", "task")
    kept = [r for r in rows if r["status"] == "kept"][:EXAMPLES]
    rejected = [r for stage in REJECTING for r in [r for r in rows if r["rejected_at"] == stage][:EXAMPLES_PER_STAGE]]
    return {group: [{k: r[k] for k in fields if k in r} for r in chosen]
            for group, chosen in (("kept", kept), ("rejected", rejected))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder synthesize", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True, help="the recipe's name (synthetic.recipes)")
    add_io(parser, "input", nargs="*", default=[], required=False, metavar="PARQUET",
           help="corpus shards (the seeds' source; a package recipe reads none)")
    add_io(parser, "output", help="folder for samples.jsonl, kept.jsonl, stats.json and examples.json")
    parser.add_argument("--work", help="folder of the response cache (default: OUTPUT/work); not an output, so a "
                                       "killed job resumes from it")
    parser.add_argument("--threads", type=int, default=1, help="torch threads and sandboxes at once")
    add_config_args(parser)
    parser.epilog = ("--params: the `synthetic` section, plus `decontamination` (sft.decontamination), `seed` and "
                     "`languages` (eval.languages: the toolchains a diverse recipe's task.toolchains name)")
    args = parser.parse_args(argv)
    if args.params:
        params = stage_params(args, "synthetic")
    else:
        from opencoder.core.config import load

        cfg = load(*args.config)
        params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": cfg["seed"],
                  "languages": cfg["eval"]["languages"]}
    stats = build(args.recipe, args.input, params, args.output, args.work or Path(args.output) / "work", args.threads)
    f = stats["funnel"]
    log.info("synthesize %s: %s", args.recipe, ", ".join(f"{k} {v}" for k, v in f.items()))
    return 0
