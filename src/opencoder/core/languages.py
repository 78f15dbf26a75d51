"""File name → (language, doc_type), from the linguist-derived table in `data/languages.tsv`.

An exact file name (`Makefile`, `Dockerfile`) wins over an extension; among extensions the longest
(`.cmake.in` before `.in`) wins. Names are linguist's lower-cased (`python`, `cpp`, `csharp`, ...;
see `data/make_languages.py`). A path the table does not know is `("unknown", "unknown")`.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources

UNKNOWN = ("unknown", "unknown")
WEB_PAGE = ("web", "text")  # a web page's extracted text, whatever its URL ends in


@functools.cache
def _table() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    filenames: dict[str, tuple[str, str]] = {}
    extensions: dict[str, tuple[str, str]] = {}
    with resources.files("opencoder.core.linguist").joinpath("languages.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            target = filenames if row["kind"] == "filename" else extensions
            target[row["key"]] = (row["language"], row["doc_type"])
    return filenames, extensions


def classify(path: str) -> tuple[str, str]:
    """(language, doc_type) of a `/`-separated path; UNKNOWN if neither its name nor extension is known."""
    filenames, extensions = _table()
    name = path.rsplit("/", 1)[-1]
    if name in filenames:
        return filenames[name]
    lowered = name.lower()
    dot = lowered.find(".", 1)  # a leading dot (`.bashrc`) is part of the name, not an extension
    while dot != -1:
        if lowered[dot:] in extensions:
            return extensions[lowered[dot:]]
        dot = lowered.find(".", dot + 1)
    return UNKNOWN


def classify_document(path: str, url: str | None) -> tuple[str, str]:
    """(language, doc_type) of a document: WEB_PAGE for a web page (it has a URL), else by its path."""
    return WEB_PAGE if url else classify(path)


def languages() -> list[str]:
    """Every language name the table can produce."""
    filenames, extensions = _table()
    return sorted({lang for lang, _ in (*filenames.values(), *extensions.values())})
