#!/bin/bash
# bench/store.sh — kiln load / kiln import of a large root file system,
# extraction included (kiln extracts each layer while it streams in),
# against the tools users would pick instead:
#   podman load (overlay storage: decompresses and extracts each layer),
#   skopeo copy to an OCI layout + umoci unpack (the same work in two steps),
#   podman import (for kiln import).
# Two inputs from the same image: an oci-archive with a gzip layer (the
# decompress + extract path issue 3 is about) and a docker-archive with a
# plain layer tar (extract; kiln also gzips the blob it keeps).
#
# Every tool writes to /var/tmp (one file system), into a fresh directory
# per run; nothing is deleted until the end, and the script first waits
# $BENCH_SETTLE seconds (default 65): ext4 slows file creation for a while
# after a mass deletion (an earlier run's cleanup), which would penalise
# whoever runs first.  The tools of a group take turns, run after run.
# Before each run: sync, drop the page cache (as root), read the input
# once.  Each figure is the median of $BENCH_RUNS runs (default 3); ratios
# are other / kiln (> 1: kiln is faster).
#
# Input: $ROOTFS_TAR, else /var/tmp/kiln-cache/gcc-rootfs.tar, made with
# tests/images/make-rootfs.sh gcc (falls back to a tarball of /usr).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.."
SRC=$PWD
KILN=${KILN_BIN:-$SRC/kiln}
RUNS=${BENCH_RUNS:-3}
SETTLE=${BENCH_SETTLE:-65}
CACHE=/var/tmp/kiln-cache
ROOTFS=${ROOTFS_TAR:-$CACHE/gcc-rootfs.tar}
if [ ! -s "$ROOTFS" ]; then
	echo "# building $ROOTFS" >&2
	ROOTFS=$(bash tests/images/make-rootfs.sh gcc) || {
		echo "# make-rootfs.sh failed; using a tarball of /usr" >&2
		ROOTFS=$CACHE/usr-rootfs.tar
		mkdir -p "$CACHE" && tar -C / -cf "$ROOTFS" usr
	}
fi
W=$(mktemp -d /var/tmp/kiln-bench-store.XXXXXX)
cleanup() {
	# podman's overlay driver may leave its home mounted
	grep -o " $W/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

now() { date +%s.%N; }
declare -A T
# prep INPUT: a level playing field before each run
prep() {
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	cat "$@" >/dev/null
}
# group INPUT NAME FN [NAME FN...]: RUNS rounds, each running every FN
# (with $RUN set to the round) after prep INPUT; then prints each NAME's
# min / median / max wall seconds, T[NAME] = median
group() {
	local input=$1 name fn t0 t1 i
	shift
	local -a names=() fns=()
	declare -A times=()
	while [ $# -gt 0 ]; do
		names+=("$1") fns+=("$2")
		shift 2
	done
	for RUN in $(seq "$RUNS"); do
		for i in "${!names[@]}"; do
			name=${names[$i]} fn=${fns[$i]}
			prep "$input"
			t0=$(now)
			$fn >"$W/out.$fn.$RUN" 2>&1 || {
				echo "$name failed:"
				tail -5 "$W/out.$fn.$RUN"
				exit 1
			}
			t1=$(now)
			times[$name]+=" $(echo "$t1 - $t0" | bc)"
		done
	done
	for name in "${names[@]}"; do
		read -r min med max < <(printf '%s\n' ${times[$name]} | sort -g |
			awk '{v[NR] = $1} END {print v[1], v[int((NR + 1) / 2)], v[NR]}')
		T[$name]=$med
		printf "%-36s %7.3f s   (min %.3f, max %.3f, n=%d)\n" "$name" \
			"$med" "$min" "$max" "$RUNS"
	done
}
ratio() {
	[ -n "${T[$1]:-}" ] && [ -n "${T[$2]:-}" ] || return 0
	printf "  %-36s / %-14s = %6.2fx%s\n" "$1" "$2" \
		"$(echo "${T[$1]} / ${T[$2]}" | bc -l)" "${3:+   $3}"
}

# The inputs, from one kiln image.
env KILN_ROOT="$W/src" "$KILN" import "$ROOTFS" bench:1 >/dev/null || exit 1
env KILN_ROOT="$W/src" "$KILN" save -o "$W/img-docker.tar" bench:1 || exit 1
env KILN_ROOT="$W/src" "$KILN" save --format oci-archive \
	-o "$W/img-oci.tar" bench:1 || exit 1
echo "input: $ROOTFS ($(($(stat -c %s "$ROOTFS") / 1000000)) MB tar)," \
	"gzip layer $(($(stat -c %s "$W/img-oci.tar") / 1000000)) MB"
echo "each: median of $RUNS, page cache dropped before each run"

# kiln: the layer dir must be there when the command returns
kiln_check() {
	local n
	n=$(ls "$1/layers" | wc -l)
	[ "$n" = 1 ] || { echo "kiln left $n layer dirs in $1"; return 1; }
}
kiln_load_gz() {
	env KILN_ROOT="$W/kg.$RUN" "$KILN" load -i "$W/img-oci.tar" &&
		kiln_check "$W/kg.$RUN"
}
kiln_load_plain() {
	env KILN_ROOT="$W/kp.$RUN" "$KILN" load -i "$W/img-docker.tar" &&
		kiln_check "$W/kp.$RUN"
}
kiln_import() {
	env KILN_ROOT="$W/ki.$RUN" "$KILN" import "$ROOTFS" bench:1 &&
		kiln_check "$W/ki.$RUN"
}

HAVE_PODMAN=
if command -v podman >/dev/null && [ "$(id -u)" = 0 ]; then
	HAVE_PODMAN=1
	# a private containers.conf: runc, cgroupfs (the lab's settings)
	if [ -f /work/shared/peers/config/containers.conf ]; then
		cp /work/shared/peers/config/containers.conf "$W/containers.conf"
	else
		printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
			>"$W/containers.conf"
	fi
	# (the --root/--runroot of each run override these)
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
		"$W/pdefault" "$W/pdefault-run" >"$W/storage.conf"
fi
pod() {
	env CONTAINERS_CONF="$W/containers.conf" \
		CONTAINERS_STORAGE_CONF="$W/storage.conf" \
		podman --root "$W/$1.$RUN" --runroot "$W/$1-run.$RUN" \
		--storage-driver overlay "${@:2}"
}
podman_load_gz() { pod pg load -i "$W/img-oci.tar"; }
podman_load_plain() { pod pp load -i "$W/img-docker.tar"; }
podman_import() { pod pi import "$ROOTFS" localhost/bench:1; }

HAVE_UMOCI=
command -v skopeo >/dev/null && command -v umoci >/dev/null && HAVE_UMOCI=1
skopeo_umoci_gz() {
	skopeo copy -q "oci-archive:$W/img-oci.tar" "oci:$W/sg.$RUN:bench" &&
		umoci unpack --image "$W/sg.$RUN:bench" "$W/bg.$RUN"
}
skopeo_umoci_plain() {
	skopeo copy -q "docker-archive:$W/img-docker.tar" "oci:$W/sp.$RUN:bench" &&
		umoci unpack --image "$W/sp.$RUN:bench" "$W/bp.$RUN"
}

# the tools of each group, as installed
G_GZ=("kiln load (gzip)" kiln_load_gz)
G_PLAIN=("kiln load (plain)" kiln_load_plain)
G_IMPORT=("kiln import" kiln_import)
if [ -n "$HAVE_PODMAN" ]; then
	G_GZ+=("podman load (gzip)" podman_load_gz)
	G_PLAIN+=("podman load (plain)" podman_load_plain)
	G_IMPORT+=("podman import" podman_import)
fi
if [ -n "$HAVE_UMOCI" ]; then
	G_GZ+=("skopeo copy + umoci unpack (gzip)" skopeo_umoci_gz)
	G_PLAIN+=("skopeo copy + umoci unpack (plain)" skopeo_umoci_plain)
fi
sync
sleep "$SETTLE"
echo
echo "# gzip layer (oci-archive): decompress + extract"
group "$W/img-oci.tar" "${G_GZ[@]}"
echo "# plain layer (docker-archive): extract"
group "$W/img-docker.tar" "${G_PLAIN[@]}"
echo "# root file system tarball"
group "$ROOTFS" "${G_IMPORT[@]}"
echo
echo "ratios (other / kiln; > 1: kiln is faster)"
ratio "podman load (gzip)" "kiln load (gzip)" "target >= 3"
ratio "skopeo copy + umoci unpack (gzip)" "kiln load (gzip)"
ratio "podman load (plain)" "kiln load (plain)"
ratio "skopeo copy + umoci unpack (plain)" "kiln load (plain)"
ratio "podman load (plain)" "kiln import"
ratio "podman import" "kiln import"
echo "(every tool ends with the tree extracted: kiln in layers/<diffid>/,"
echo " podman in its overlay storage, umoci in a bundle's rootfs)"
