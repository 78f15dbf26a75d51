"""Jupyter notebooks (paper 1.1, Appendix C.3): one `.ipynb` file → one structured document.

The raw JSON of a notebook is mostly metadata, escaped strings and base64 images, so ingest converts
it: markdown (and raw) cells become plain text, code cells become fenced blocks tagged with the
kernel's language, and each code cell's text outputs (streams, `text/plain` results, errors) follow in
an ```` ```output ```` block cut at `max_output_chars` (0 drops outputs). Images and other rich outputs
are dropped. The document keeps language `jupyter-notebook` (its own filter group) and doc_type `code`.

A file that is not JSON, or JSON that is not a notebook, raises `NotebookError` naming the file; ingest
lists it in `rejected.parquet` with reason `broken_notebook`.
"""

from __future__ import annotations

import json

import nbformat

from opencoder.core.errors import OpencoderError

LANGUAGE = "jupyter-notebook"  # the linguist table's name for `.ipynb`


class NotebookError(OpencoderError):
    """A notebook that cannot be read: not JSON, or not in the notebook format."""


def kernel_language(nb: nbformat.NotebookNode) -> str:
    """The kernel's language (`kernelspec.language`, else `language_info.name`), lower case; `unknown` if neither."""
    meta = nb.get("metadata", {})
    name = meta.get("kernelspec", {}).get("language") or meta.get("language_info", {}).get("name")
    return str(name).strip().lower() if name else "unknown"


def _text(value) -> str:
    """nbformat keeps multi-line strings either whole or as a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value or "")


def _outputs(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_text(out.get("data", {}).get("text/plain")))
        elif kind == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return "\n".join(p.rstrip("\n") for p in parts if p.strip())


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... [{len(text) - limit} more characters]"


def convert(content: str, path: str, max_output_chars: int) -> tuple[str, str]:
    """(structured text, kernel language) of a notebook's JSON `content`; `path` names it in errors."""
    try:
        nb = nbformat.reads(content, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"{path}: notebook is not JSON: {str(exc).splitlines()[0][:200]}") from None
    except Exception as exc:  # nbformat's own errors for JSON that is not a notebook
        raise NotebookError(f"{path}: not a Jupyter notebook: {type(exc).__name__}: {str(exc)[:200]}") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{path}: not a Jupyter notebook: no `cells` list")
    language = kernel_language(nb)
    blocks = []
    for cell in cells:
        source = _text(cell.get("source")).strip("\n")
        if cell.get("cell_type") == "code":
            if source.strip():
                blocks.append(f"```{language}\n{source}\n```")
            output = _outputs(cell) if max_output_chars > 0 else ""
            if output:
                blocks.append(f"```output\n{_truncate(output, max_output_chars)}\n```")
        elif source.strip():
            blocks.append(source)
    return ("\n\n".join(blocks) + "\n" if blocks else ""), language
