#!/bin/sh
# demo.sh — the README's main job.  Installs what is missing, builds kiln,
# and shows what kiln does today.  Grows with kiln.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh demo
make -s -j"$(nproc 2>/dev/null || echo 2)"
./kiln --version
./kiln help
