"""Rules as data: the `filter` config section turned into per-group predicates on signals.

A rule is `{lt, gt, eq, prob, enabled}` under `filter.groups.<group>.<rule id>`; it *fires* on a
document of its group when the signal is `< lt`, `> gt` or `== eq` (any that is given). A null signal
never fires; a disabled rule is skipped. A firing rule drops the document, except that a rule with
`prob < 1` drops it only with that probability, decided by the seeded draw (`opencoder.core.draw`) on
(seed, rule id, document id), so a rebuild drops the same documents. Any dropping rule drops the document (no scores).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import polars as pl

from opencoder.core.config import ConfigError
from opencoder.data.filter.signals import SIGNALS


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    lt: float | None = None
    gt: float | None = None
    eq: float | bool | None = None
    prob: float = 1.0
    enabled: bool = True

    def condition(self, value: pl.Expr) -> pl.Expr:
        """Column-wise: the rule's condition holds (null signal → False)."""
        parts = []
        if self.lt is not None:
            parts.append(value < self.lt)
        if self.gt is not None:
            parts.append(value > self.gt)
        if self.eq is not None:
            parts.append(value == self.eq)
        return pl.any_horizontal(parts).fill_null(False) & value.is_not_null()

    def holds(self, value) -> bool:
        """Per document: the same condition on one signal value."""
        if value is None:
            return False
        return bool(
            (self.lt is not None and value < self.lt)
            or (self.gt is not None and value > self.gt)
            or (self.eq is not None and value == self.eq)
        )


def load_groups(params: Mapping) -> dict[str, dict[str, Rule]]:
    """Rules per group from the `filter` section; every rule id must name a known signal."""
    groups: dict[str, dict[str, Rule]] = {}
    off = params.get("groups_off", [])
    if unknown := sorted(set(off) - set(params["groups"])):
        raise ConfigError(f"filter.groups_off: {unknown} name no group under filter.groups")
    for group, rules in params["groups"].items():
        groups[group] = {}
        for rule_id, spec in rules.items():
            if group in off:  # paper 7's kind of ablation: the group's documents pass unjudged
                spec = {**spec, "enabled": False}
            if rule_id not in SIGNALS:
                raise ConfigError(f"filter.groups.{group}.{rule_id}: no signal of that name "
                                  "(see opencoder.data.filter.signals)")
            rule = Rule(rule_id, **spec)
            if rule.enabled and rule.lt is None and rule.gt is None and rule.eq is None:
                raise ConfigError(f"filter.groups.{group}.{rule_id}: enabled without lt, gt or eq")
            groups[group][rule_id] = rule
    assign = params["assign"]
    named = {*assign["languages"].values(), assign["data"], assign["code"], *assign["text_languages"].values(),
             assign["text"]}
    missing = sorted(named - set(groups))
    if missing:
        raise ConfigError(f"filter.assign: groups {missing} have no rules under filter.groups")
    return groups


def group_expr(assign: Mapping) -> pl.Expr:
    """The rule group of each document.

    Text files go by their identified language (`text_languages`, else `text`); code and data in a
    language with its own group use it; other data files use `data`, other code `code`.
    """
    text_group = pl.col("text_language").replace_strict(assign["text_languages"], default=assign["text"])
    by_language = pl.col("language").replace_strict(assign["languages"], default=None)
    return (
        pl.when(pl.col("doc_type") == "text").then(text_group)
        .when(by_language.is_not_null()).then(by_language)
        .when(pl.col("doc_type") == "data").then(pl.lit(assign["data"]))
        .otherwise(pl.lit(assign["code"]))
    )


def group_of(assign: Mapping, language: str, doc_type: str, text_language: str | None) -> str:
    """`group_expr` for one document."""
    if doc_type == "text":
        return assign["text_languages"].get(text_language, assign["text"])
    if language in assign["languages"]:
        return assign["languages"][language]
    return assign["data"] if doc_type == "data" else assign["code"]
