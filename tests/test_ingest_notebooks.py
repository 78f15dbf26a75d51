"""Jupyter notebooks: ingest converts them into structured documents, rejects broken ones by name."""

from __future__ import annotations

import nbformat
import polars as pl
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from opencoder.core import config, shards
from opencoder.core.languages import classify
from opencoder.data import ingest, notebooks, preprocess
from opencoder.data.filter.rules import group_of

CONFIG = config.load()


def analysis_notebook(language: str = "python") -> str:
    nb = new_notebook(metadata={"kernelspec": {"name": "k", "display_name": "K", "language": language}})
    nb.cells = [
        new_markdown_cell("# Loading data\n\nWe read the file and count rows."),
        new_code_cell("rows = [1, 2, 3]\nprint(len(rows))", outputs=[new_output("stream", name="stdout", text="3\n")]),
        new_code_cell("rows", execution_count=2, outputs=[
            new_output("execute_result", data={"text/plain": "[1, 2, 3]", "image/png": "iVBORw0KGgo="}, execution_count=2),
        ]),
        new_code_cell("1 / 0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                   traceback=["Traceback ..."])]),
        new_code_cell("print('x' * 5000)", outputs=[new_output("stream", name="stdout", text="x" * 5000 + "\n")]),
    ]
    nbformat.validate(nb)
    return nbformat.writes(nb)


def test_conversion_keeps_markdown_code_and_cut_outputs_drops_images():
    text, language = notebooks.convert(analysis_notebook(), "nb.ipynb", max_output_chars=100)
    assert language == "python"
    assert text.startswith("# Loading data\n\nWe read the file and count rows.\n\n```python\nrows = [1, 2, 3]\n")
    assert "```output\n3\n```" in text
    assert "```output\n[1, 2, 3]\n```" in text and "iVBOR" not in text
    assert "ZeroDivisionError: division by zero" in text
    assert "x" * 100 + "\n... [4900 more characters]" in text and "x" * 101 not in text.split("```output")[-1]


def test_outputs_dropped_at_zero_and_kernel_language_from_language_info():
    nb = nbformat.reads(analysis_notebook(), as_version=4)
    del nb.metadata["kernelspec"]
    nb.metadata["language_info"] = {"name": "R"}
    text, language = notebooks.convert(nbformat.writes(nb), "nb.ipynb", max_output_chars=0)
    assert language == "r" and "```r\nrows = [1, 2, 3]" in text and "```output" not in text


@pytest.mark.parametrize(("content", "message"), [
    ('{"cells": [', "nb.ipynb: notebook is not JSON"),
    ("print('a script')\n", "nb.ipynb: notebook is not JSON"),
    ('{"hello": "world"}', "nb.ipynb: not a Jupyter notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
     "nb.ipynb: not a Jupyter notebook: .*missing an expected key"),
])
def test_broken_notebooks_raise_naming_the_file(content, message):
    with pytest.raises(notebooks.NotebookError, match=message):
        notebooks.convert(content, "nb.ipynb", max_output_chars=100)


def test_ingest_converts_good_rejects_broken_and_filter_judges_as_notebook(tmp_path):
    root = tmp_path / "repo"
    (root / "nb").mkdir(parents=True)
    (root / "nb" / "analysis.ipynb").write_text(analysis_notebook())
    (root / "nb" / "broken.ipynb").write_text('{"cells": [{"source": "x"')
    (root / "main.py").write_text("print('kept')\n")
    params = {**CONFIG["ingest"], "shard_bytes": 10**6,
              "sources": [{"name": "local", "type": "directory", "path": str(root)}]}
    out = tmp_path / "ingest"
    stats = ingest.ingest(params, out)

    docs = shards.read_documents(out / "00000.parquet")
    assert sorted(docs["path"]) == ["main.py", "nb/analysis.ipynb"]
    nb_doc = docs.filter(pl.col("path") == "nb/analysis.ipynb").row(0, named=True)
    assert nb_doc["language"] == "jupyter-notebook" and nb_doc["doc_type"] == "code"
    assert nb_doc["text"].startswith("# Loading data") and '"cell_type"' not in nb_doc["text"]
    assert nb_doc["bytes"] == len(nb_doc["text"].encode())

    rejected = pl.read_parquet(out / "rejected.parquet").row(0, named=True)
    assert (rejected["path"], rejected["reason"]) == ("nb/broken.ipynb", "broken_notebook")
    assert rejected["detail"].startswith("nb/broken.ipynb: notebook is not JSON")
    assert stats["dropped"]["broken_notebook"]["documents"] == 1

    kept, _, _ = preprocess.preprocess(docs, CONFIG["preprocess"])
    assert "nb/analysis.ipynb" in kept["path"].to_list()
    assert classify("nb/analysis.ipynb") == ("jupyter-notebook", "code")
    assert group_of(CONFIG["filter"]["assign"], "jupyter-notebook", "code", None) == "notebook"
    assert "notebook" in CONFIG["filter"]["groups"]
