"""Filtering (paper 1.6): the OpenCoder release's rule set as data, signals computed column-wise.

`signals` defines every signal once, `rules` turns the config into predicates, `parsing` is the one
per-document pass (lexers and parsers), `engine` applies them to shards, `summary` reports per rule
and group, `cli` is `opencoder filter`. See README.md for definitions and differences from the release.
"""
