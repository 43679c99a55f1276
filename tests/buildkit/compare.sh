#!/bin/bash
# compare.sh CASE_DIR EXPECTED.json — build one case with kiln and compare
# the image with what BuildKit built (recorded by record.sh).  Uses the
# store in $KILN_ROOT, which must hold `busybox` (the rootfs from
# tests/images/make-rootfs.sh).  Prints the first difference; exit 1 on a
# difference or a failed build.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN_BIN:-$HERE/../../kiln}
dir=$1 expected=$2
case=$(basename "$dir")
ROOTFS=${BUSYBOX_ROOTFS:-/var/tmp/kiln-cache/busybox-rootfs.tar}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# git keeps only 0644/0755; the tree record.sh recorded had dir/sub/two 0600
find "$dir" -path '*/dir/sub/two' -exec chmod 600 {} +
args=(-q -t "kiln-bk/$case:latest")
[ -f "$dir/target" ] && args+=(--target "$(cat "$dir/target")")
if [ -f "$dir/build-args" ]; then
	while IFS= read -r a; do args+=(--build-arg "$a"); done <"$dir/build-args"
fi
for s in "$dir"/secret-*; do
	[ -f "$s" ] && args+=(--secret "id=${s##*/secret-},src=$s")
done
"$KILN" build "${args[@]}" "$dir" >"$tmp/build.log" 2>&1 || {
	echo "kiln build failed:"; tail -20 "$tmp/build.log"; exit 1; }
"$KILN" save --format docker-archive -o "$tmp/img.tar" "kiln-bk/$case:latest"
python3 "$HERE/imgview.py" "$tmp/img.tar" --base "$ROOTFS" -o "$tmp/actual.json"
python3 "$HERE/imgview.py" diff "$expected" "$tmp/actual.json"
