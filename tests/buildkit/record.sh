#!/bin/bash
# record.sh [CASE_REGEX] — record what BuildKit (dockerd) builds for each
# case in cases/, as expected/<case>.json (imgview.py's canonical view).
# Needs a running dockerd with BuildKit; see docs/DEVELOPERS.md.  The base
# image `busybox` must be the rootfs from tests/images/make-rootfs.sh,
# imported with the same config kiln's tests give it; this script does
# that import itself.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DOCKER=${DOCKER:-/usr/bin/docker}
ROOTFS=$("$HERE/../images/make-rootfs.sh" busybox)
export DOCKER_BUILDKIT=1
"$DOCKER" version >/dev/null || { echo "dockerd is not running" >&2; exit 1; }
"$DOCKER" import -c 'CMD ["sh"]' \
	-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$ROOTFS" busybox:latest >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dir in "$HERE"/cases/*/; do
	case=$(basename "$dir")
	[[ -n ${1:-} && ! $case =~ $1 ]] && continue
	# git keeps only 0644/0755; the recorded trees have dir/sub/two 0600
	# (compare.sh does the same before building with kiln)
	find "$dir" -path '*/dir/sub/two' -exec chmod 600 {} +
	args=(--network=none --no-cache -t "kiln-bk/$case")
	[ -f "$dir/target" ] && args+=(--target "$(cat "$dir/target")")
	if [ -f "$dir/build-args" ]; then
		while IFS= read -r a; do args+=(--build-arg "$a"); done <"$dir/build-args"
	fi
	for s in "$dir"/secret-*; do
		[ -f "$s" ] && args+=(--secret "id=${s##*/secret-},src=$s")
	done
	if ! "$DOCKER" build "${args[@]}" "$dir" >"$tmp/log" 2>&1; then
		echo "FAIL $case: docker build failed"; tail -5 "$tmp/log"; continue
	fi
	"$DOCKER" save -o "$tmp/img.tar" "kiln-bk/$case"
	python3 "$HERE/imgview.py" "$tmp/img.tar" --base "$ROOTFS" -o "$HERE/expected/$case.json"
	"$DOCKER" rmi "kiln-bk/$case" >/dev/null
	echo "recorded $case"
done
