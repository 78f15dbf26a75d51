"""Regenerate `languages.tsv` from GitHub linguist's language list.

    python -m opencoder.core.linguist.make_languages LANGUAGES > src/opencoder/core/linguist/languages.tsv

LANGUAGES is linguist's `lib/linguist/languages.yml`, or the same data as JSON (a mapping of language
name to its entry); see PROVENANCE.md for the copy the committed table was made from. The output is
sorted, so the same input gives the same bytes.

Decisions this script makes (the paper's own mapping, OpenCoder's `program_to_type`, is not
published in full, so these follow its description in section 1.2):

* doc_type: linguist `programming` and `markup` → `code` (HTML, CSS, templates are code in the paper),
  `data` → `data`, `prose` → `text`; typesetting markup (TeX, BibTeX, roff) → `text`; SQL → `code`
  (linguist files it under data, but SQL is one of the paper's code languages).
* Jupyter notebooks are `code`: ingest converts each into a structured document (opencoder.data.notebooks).
* EXCLUDED types (CSV, SVG, pickles, meshes, checksums, subtitles, CAD boards, keys, ...)
  get doc_type `excluded` and are dropped by preprocess, as the paper's hard-exclude list does.
* An extension claimed by several languages goes to PREFERRED if listed there, else to the language
  whose primary (first) extension it is, then to the lowest position in a language's list, then by name.
* Names are linguist's, lower-cased with `++`→`pp`, `#`→`sharp`, `*`→`star`, spaces→`-` and quotes and
  brackets dropped: `python`, `c`, `cpp`, `csharp`, `go`, `html`, `java`, `javascript`, `shell`, `sql`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

DOC_TYPE = {"programming": "code", "markup": "code", "data": "data", "prose": "text"}
AS_TEXT = {"TeX", "BibTeX", "Roff", "Roff Manpage", "RUNOFF"}
AS_CODE = {"SQL"}
EXCLUDED = {
    "2-Dimensional Array", "Adobe Font Metrics", "Altium Designer", "C-ObjDump", "COLLADA", "CSV",
    "Checksums", "CoNLL-U", "Cpp-ObjDump", "Cue Sheet", "D-ObjDump", "DirectX 3D File", "Eagle",
    "FIGlet Font", "Formatted", "G-code", "Gerber Image", "Git Revision List", "Glyph Bitmap Distribution Format",
    "Go Checksums", "IRC log", "Jest Snapshot", "KiCad Layout", "KiCad Legacy Layout",
    "KiCad Schematic", "LTspice Symbol", "M3U", "ObjDump", "Pickle", "Public Key", "Raw token data",
    "Robots Exclusion Rules", "STL", "SVG", "Simple File Verification", "Spline Font Database", "SubRip Text",
    "Survex data", "TSPLIB data", "TSV", "TextGrid", "Unity3D Asset", "Wavefront Material", "Wavefront Object",
    "WebVTT", "X BitMap", "X Font Directory Index", "X PixMap",
}
PREFERRED = {
    ".as": "ActionScript", ".asc": "AsciiDoc", ".asm": "Assembly", ".b": "Brainfuck", ".bas": "Visual Basic 6.0",
    ".bb": "BitBake", ".cfg": "INI", ".cgi": "Perl", ".cl": "OpenCL", ".cls": "TeX", ".cs": "C#",
    ".d": "D", ".e": "Eiffel", ".ex": "Elixir", ".f": "Fortran", ".fcgi": "Python", ".for": "Fortran",
    ".fs": "F#", ".h": "C", ".hh": "C++", ".html": "HTML", ".i": "SWIG", ".inc": "PHP", ".json": "JSON",
    ".l": "Lex", ".lisp": "Common Lisp", ".m": "Objective-C", ".md": "Markdown", ".ml": "OCaml",
    ".mod": "Modula-2", ".ms": "Roff", ".pl": "Perl", ".plist": "XML Property List", ".pm": "Perl",
    ".pp": "Puppet", ".pro": "QMake", ".properties": "Java Properties", ".r": "R", ".rs": "Rust",
    ".s": "Assembly", ".sc": "Scala", ".spec": "RPM Spec", ".sql": "SQL", ".st": "Smalltalk",
    ".t": "Perl", ".ts": "TypeScript", ".tsx": "TSX", ".txt": "Text", ".v": "Verilog", ".yaml": "YAML",
    ".yml": "YAML",
}


def canonical(name: str) -> str:
    out = name.lower().replace("++", "pp").replace("#", "sharp").replace("*", "star").replace(" ", "-")
    return "".join(ch for ch in out if ch not in "'()")


def doc_type(name: str, linguist_type: str) -> str:
    if name in EXCLUDED:
        return "excluded"
    if name in AS_TEXT:
        return "text"
    if name in AS_CODE:
        return "code"
    return DOC_TYPE[linguist_type]


def table(languages: dict) -> list[tuple[str, str, str, str]]:
    """Rows (kind, key, language, doc_type); kind is `extension` (lower case, with dot) or `filename`."""
    claims: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name, entry in languages.items():
        for position, ext in enumerate(entry.get("extensions") or []):
            claims.setdefault(("extension", ext.lower()), []).append((position, name))
        for filename in entry.get("filenames") or []:
            claims.setdefault(("filename", filename), []).append((0, name))
    rows = []
    for (kind, key), owners in claims.items():
        names = {name for _, name in owners}
        chosen = PREFERRED.get(key) if kind == "extension" else None
        if chosen not in names:
            chosen = min(owners)[1]
        rows.append((kind, key, canonical(chosen), doc_type(chosen, languages[chosen]["type"])))
    names = [canonical(n) for n in languages]
    if len(set(names)) != len(names):
        raise SystemExit("canonical language names collide; extend canonical()")
    return sorted(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    languages = yaml.safe_load(Path(argv[0]).read_text())
    sys.stdout.write("kind\tkey\tlanguage\tdoc_type\n")
    for row in table(languages):
        sys.stdout.write("\t".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
