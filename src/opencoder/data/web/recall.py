"""Code-related web recall, one round (paper 2): seeds → classifier → scores → domains → URL patterns.

A round takes the web pages (documents with a `url`), the round's seeds (page ids labelled positive;
round 1: pages whose URL matches `seeds.positive_urls`) and the BPE tokenizer, and

1. draws negatives from the pages that are not positive seeds (`negatives_per_positive` per positive,
   seeded by round), holds out `held_out` of both by id hash, trains the fastText classifier on the rest
   (`opencoder.data.web.classifier`) and reports its precision and recall on the held-out part;
2. scores every page (scores kept) and recalls those at or above `classifier.threshold`;
3. groups pages by domain and marks a domain code-related when more than `domain_share` (paper: 10%) of
   its pages are recalled;
4. adds to the next round's seeds the pages of marked domains that the classifier missed but whose URL
   matches a code pattern of `url_patterns` (the paper's Table 14 form: `%` is any run of characters,
   matched against the URL without its scheme).

Functions here are pure (frames in, frames out); `opencoder.data.web.cli` reads and writes the files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl

from opencoder.core.errors import InputError
from opencoder.data.web import classifier

SEED_SCHEMA = {"id": pl.String(), "origin": pl.String()}  # origin: `config` or `url_pattern:<round>`


@cache
def _pattern_regex(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")) + r"\Z", re.IGNORECASE)


def url_matches(urls: pl.Series, patterns: Sequence[str]) -> pl.Series:
    """Whether each URL (scheme dropped) matches any `%`-wildcard pattern."""
    bare = urls.str.replace(r"^[A-Za-z][A-Za-z0-9+.-]*://", "")
    hits = [any(_pattern_regex(p).match(u) for p in patterns) if u is not None else False for u in bare.to_list()]
    return pl.Series(urls.name, hits, dtype=pl.Boolean())


def held_out(ids: pl.Series, fraction: float) -> pl.Series:
    """A stable split by id: the same page is held out in every round and on every rebuild."""
    cut = int(fraction * 2**32)
    return pl.Series([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=4).digest(), "big") < cut
                      for i in ids.to_list()], dtype=pl.Boolean())


def initial_seeds(pages: pl.DataFrame, positive_urls: Sequence[str]) -> pl.DataFrame:
    """Round 1's positives: pages whose URL matches a configured seed pattern."""
    chosen = pages.filter(url_matches(pages["url"], positive_urls))
    return pl.DataFrame({"id": chosen["id"], "origin": "config"}, schema=SEED_SCHEMA)


def mark_domains(scored: pl.DataFrame, share: float) -> pl.DataFrame:
    """Per domain: pages, recalled pages, their share, and `marked` when the share exceeds `share`."""
    return (scored.group_by("domain").agg(pages=pl.len(), recalled=pl.col("recalled").sum().cast(pl.Int64))
            .with_columns(share=pl.col("recalled") / pl.col("pages"))
            .with_columns(marked=pl.col("share") > share)
            .sort("domain"))


def pattern_additions(scored: pl.DataFrame, domains: pl.DataFrame, patterns: Sequence[str]) -> pl.DataFrame:
    """Pages of marked domains the classifier missed whose URL matches a code pattern."""
    marked = domains.filter(pl.col("marked"))["domain"]
    missed = scored.filter(~pl.col("recalled") & pl.col("domain").is_in(marked.implode()))
    return missed.filter(url_matches(missed["url"], patterns))


def run_round(pages: pl.DataFrame, seeds: pl.DataFrame, segment: classifier.Segmenter, params: dict,
              round_number: int, seed: int) -> dict:
    """One round over `pages` (id, url, domain, text). Returns frames `scores`, `domains`, `next_seeds`,
    the trained `model` and the `report`."""
    settings, rng_seed = params["classifier"], seed + round_number
    # each page segmented once: training, the held-out split, scoring and token counts all read it
    pages = pages.with_columns(segmented=pl.Series(segment(pages["text"].to_list()), dtype=pl.String))
    is_positive = pages["id"].is_in(seeds["id"].implode())
    positives = pages.filter(is_positive)
    others = pages.filter(~is_positive)
    if positives.height == 0:
        raise InputError(f"web recall round {round_number}: none of the {seeds.height} seeds is among the {pages.height} web pages")
    if others.height == 0:
        raise InputError(f"web recall round {round_number}: all {pages.height} web pages are seeds; no page is left to draw negatives from")
    wanted = min(others.height, max(1, round(params["negatives_per_positive"] * positives.height)))
    negatives = others.sample(wanted, seed=rng_seed, shuffle=True) if wanted else others
    pos_out, neg_out = held_out(positives["id"], params["held_out"]), held_out(negatives["id"], params["held_out"])
    model = classifier.fit(positives.filter(~pos_out)["segmented"].to_list(),
                           negatives.filter(~neg_out)["segmented"].to_list(), segment, settings, rng_seed)
    test = pl.concat([positives.filter(pos_out), negatives.filter(neg_out)])
    truth = np.array([True] * int(pos_out.sum()) + [False] * int(neg_out.sum()), dtype=bool)
    evaluation = classifier.precision_recall(model.predict(test["segmented"].to_list()), truth, settings["threshold"])

    scores = model.predict(pages["segmented"].to_list())
    scored = pages.select("id", "url", "domain").with_columns(
        score=pl.Series(scores, dtype=pl.Float64()), recalled=pl.Series(scores >= settings["threshold"]))
    domains = mark_domains(scored, params["domain_share"])
    added = pattern_additions(scored, domains, params["url_patterns"])
    next_seeds = pl.concat([seeds, pl.DataFrame({"id": added["id"], "origin": f"url_pattern:{round_number}"},
                                                schema=SEED_SCHEMA)])
    recalled = scored["recalled"]
    report = {
        "round": round_number,
        "pages_scored": pages.height,
        "pages_recalled": int(recalled.sum()),
        "recalled_bytes": int(pages.filter(recalled)["text"].str.len_bytes().sum() or 0),
        "recalled_tokens": sum(len(t.split()) for t in pages.filter(recalled)["segmented"]),
        "domains": domains.height,
        "domains_marked": int(domains["marked"].sum()),
        "marked_domains": domains.filter(pl.col("marked"))["domain"].to_list(),
        "pages_added_by_url_patterns": added.height,
        "seeds": {"positives": positives.height, "negatives": negatives.height,
                  "train": int((~pos_out).sum() + (~neg_out).sum()), "held_out": test.height},
        "held_out": evaluation,
    }
    return {"scores": scored, "domains": domains, "next_seeds": next_seeds, "model": model, "report": report}
