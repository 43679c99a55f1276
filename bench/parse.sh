#!/bin/sh
# parse.sh — time kiln's Dockerfile parser on the 275 real-world
# Dockerfiles of the corpus, all in one process (out/bench/bench-parse).
# Prints the total for one pass over all files; the target is < 50 ms.
#
#   sh bench/parse.sh [CORPUS_DIR]      (default ../shared/corpus)
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-${KILN_CORPUS:-../shared/corpus}}
dir=$corpus/real-dockerfiles
if [ ! -d "$dir" ]; then
	echo "parse.sh: corpus not found ($dir), nothing to time"
	exit 0
fi
make -s out/bench/bench-parse
out/bench/bench-parse "$dir" 20
