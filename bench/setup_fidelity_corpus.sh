#!/usr/bin/env bash
# Extra real files for bench/filter_fidelity.py's multi-group sample, in a scratch directory outside
# the checkout: Debian's openjdk-17-source (the JDK's Java sources, src.zip) and libboost1.74-dev
# (C++ headers), downloaded with apt-get (no install) and unpacked. The other groups come from files
# already on the machine (see filter_fidelity.py's SOURCES). Prints the directory.
#
#   bench/setup_fidelity_corpus.sh [SCRATCH]   (default: ${OPC_FIDELITY_SCRATCH:-$HOME/.cache/opencoder-bench/fidelity-corpus})
set -euo pipefail
SCRATCH=${1:-${OPC_FIDELITY_SCRATCH:-$HOME/.cache/opencoder-bench/fidelity-corpus}}
mkdir -p "$SCRATCH/debs" "$SCRATCH/root"
cd "$SCRATCH/debs"
for pkg in openjdk-17-source libboost1.74-dev; do
  ls ${pkg}_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >&2
done
for deb in *.deb; do
  [ -e "$SCRATCH/root/.${deb}.done" ] || { dpkg-deb -x "$deb" "$SCRATCH/root" && touch "$SCRATCH/root/.${deb}.done"; }
done
if [ ! -d "$SCRATCH/java" ]; then
  mkdir -p "$SCRATCH/java"
  (cd "$SCRATCH/java" && unzip -q "$(ls "$SCRATCH"/root/usr/lib/jvm/*/lib/src.zip | head -1)" 'java.base/*' 'java.desktop/*' 'java.sql/*')
fi
echo "$SCRATCH"
