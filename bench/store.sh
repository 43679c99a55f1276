#!/bin/bash
# bench/store.sh — kiln import / kiln load of a large root file system
# against the tools users would pick instead:
#   podman load (same docker-archive), skopeo copy docker-archive: -> oci:
#   (+ umoci unpack, since podman load also unpacks).
# One run each after a warm-up read of the inputs; prints wall seconds and
# the ratio other/kiln (> 1 means kiln is faster).
#
# Input: $ROOTFS_TAR, else /var/tmp/kiln-cache/gcc-rootfs.tar, made with
#   mmdebstrap --variant=minbase --include=gcc,libc6-dev bookworm
# (falls back to a tarball of /usr when mmdebstrap cannot run).
set -u
cd "$(dirname "$0")/.."
KILN=${KILN_BIN:-$PWD/kiln}
CACHE=/var/tmp/kiln-cache
ROOTFS=${ROOTFS_TAR:-$CACHE/gcc-rootfs.tar}
mkdir -p "$CACHE"
if [ ! -s "$ROOTFS" ]; then
	echo "# building $ROOTFS" >&2
	if ! mmdebstrap --variant=minbase --include=gcc,libc6-dev \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		bookworm "$ROOTFS.tmp.tar" >&2; then
		echo "# mmdebstrap failed; using a tarball of /usr" >&2
		tar -C / -cf "$ROOTFS.tmp.tar" usr
	fi
	mv "$ROOTFS.tmp.tar" "$ROOTFS"
fi
W=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
# timeit NAME CMD...: run CMD once, print and remember its wall time
declare -A T
timeit() {
	local name=$1 t0 t1
	shift
	sync
	t0=$(now)
	"$@" >"$W/out.$name" 2>&1 || { echo "$name failed:"; tail -5 "$W/out.$name"; exit 1; }
	t1=$(now)
	T[$name]=$(echo "$t1 - $t0" | bc)
	printf "%-34s %8.3f s\n" "$name" "${T[$name]}"
}
ratio() { printf "%-34s %8.2fx\n" "$1 / $2" "$(echo "${T[$1]} / ${T[$2]}" | bc -l)"; }

size=$(stat -c %s "$ROOTFS")
echo "input: $ROOTFS ($((size / 1000000)) MB uncompressed tar)"
cat "$ROOTFS" >/dev/null

timeit "kiln import" env KILN_ROOT="$W/k1" "$KILN" import "$ROOTFS" bench:1
env KILN_ROOT="$W/k1" "$KILN" save -o "$W/img.tar" bench:1
cat "$W/img.tar" >/dev/null
timeit "kiln load" env KILN_ROOT="$W/k2" "$KILN" load -i "$W/img.tar"

if command -v skopeo >/dev/null; then
	timeit "skopeo copy (docker-archive->oci)" \
		skopeo copy -q "docker-archive:$W/img.tar" "oci:$W/sk:bench"
	if command -v umoci >/dev/null; then
		timeit "umoci unpack" umoci unpack --image "$W/sk:bench" "$W/bundle"
		T["skopeo copy + umoci unpack"]=$(echo "${T["skopeo copy (docker-archive->oci)"]} + ${T["umoci unpack"]}" | bc)
	fi
fi
if command -v podman >/dev/null && [ "$(id -u)" = 0 ]; then
	printf '[storage]\ndriver = "overlay"\nrunroot = "%s/prun"\ngraphroot = "%s/proot"\n' "$W" "$W" >"$W/storage.conf"
	timeit "podman load" env CONTAINERS_STORAGE_CONF="$W/storage.conf" \
		podman --root "$W/proot" --runroot "$W/prun" load -i "$W/img.tar"
fi

echo
echo "ratios (other / kiln; > 1: kiln faster)"
[ -n "${T["skopeo copy (docker-archive->oci)"]:-}" ] &&
	ratio "skopeo copy (docker-archive->oci)" "kiln load"
[ -n "${T["skopeo copy + umoci unpack"]:-}" ] &&
	ratio "skopeo copy + umoci unpack" "kiln load"
[ -n "${T["podman load"]:-}" ] && ratio "podman load" "kiln load"
[ -n "${T["podman load"]:-}" ] && ratio "podman load" "kiln import"
echo "(kiln import/load store compressed blobs and do not unpack; podman load"
echo " and umoci unpack also extract the tree — kiln extracts lazily on first use)"
