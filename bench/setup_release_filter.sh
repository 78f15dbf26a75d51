#!/usr/bin/env bash
# The OpenCoder release's filtering code as a reference for bench/filter_fidelity.py, never part of the
# project: its repository (OpenCoder-llm/opc_data_filtering at 44b857e, MIT) checked out in a scratch
# directory outside the checkout, and its own virtual environment with the versions of its
# environment.yml from PyPI (fastText and MeCab left out: only the notebook's language id and Japanese
# text use them). Prints the python of that environment and the source directory, one a line.
#
#   bench/setup_release_filter.sh [SCRATCH]   (default: ${OPC_RELEASE_SCRATCH:-$HOME/.cache/opencoder-bench/release-filter})
#
# The source is cloned from GitHub; OPC_RELEASE_REPO names another place to clone it from (a local
# mirror, for a machine without GitHub access).
set -euo pipefail
COMMIT=44b857e
SCRATCH=${1:-${OPC_RELEASE_SCRATCH:-$HOME/.cache/opencoder-bench/release-filter}}
REPO=${OPC_RELEASE_REPO:-https://github.com/OpenCoder-llm/opc_data_filtering.git}
mkdir -p "$SCRATCH"
SRC="$SCRATCH/opc_data_filtering"
if [ ! -d "$SRC/quality_signals" ]; then
  rm -rf "$SRC"
  git clone -q "$REPO" "$SRC"
  git -C "$SRC" checkout -q "$COMMIT"
fi
VENV="$SCRATCH/venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pygments, esprima, bs4, regex, nltk, numpy, pandas, jieba, zhconv, typing_extensions" 2>/dev/null; then
  PY=$(command -v python3.11 || command -v python3)
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q Pygments==2.18.0 esprima==4.0.1 beautifulsoup4==4.12.3 soupsieve==2.5 \
    regex==2024.11.6 nltk==3.9.1 numpy==1.26.4 pandas==2.2.3 jieba==0.42.1 zhconv==1.4.3 tqdm==4.67.1 typing_extensions==4.12.2
fi
echo "$VENV/bin/python"
echo "$SRC"
