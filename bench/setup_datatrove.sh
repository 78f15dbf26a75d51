#!/usr/bin/env bash
# The benchmark's own environment for datatrove (never a project dependency): bench/.venv-datatrove.
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv-datatrove
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import datatrove.pipeline.dedup, xxhash, pyarrow, orjson, fasttext, fasteners, trafilatura, lxml_html_clean" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q datatrove==0.10.1 xxhash==4.1.0 pyarrow==26.0.1 regex==2026.11.19 tokenizers==0.23.3 orjson==3.13.0 trafilatura==2.3.1 lxml_html_clean==0.4.6 fasteners==0.20 fasttext-numpy2-wheel==0.9.2
fi
echo "$PWD/$VENV/bin/python"
