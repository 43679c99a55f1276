#!/bin/sh
# bench/archive.sh — archive/ against the tools a user would reach for.
#
#   decompress + extract a ~300 MB gzip layer: kiln vs `tar -xzf` (GNU tar
#   + gzip) vs `pigz -d | tar -x` (when installed)
#   compress a tree into a layer: kiln ISA-L level 1 vs kiln zlib level 6
#   vs `tar -c | gzip -1` and `tar -c | gzip -6`
#
# Best of $KILN_BENCH_RUNS (default 3) runs each, page cache warm, reported
# as times and ratios.  The tree is built once from /usr and cached in
# $KILN_BENCH_DIR (default /var/tmp/kiln-bench).  Extraction goes to
# $KILN_BENCH_X (default a tmpfs under /dev/shm when there is one): on a
# virtual disk, writeback noise otherwise swamps the CPU cost measured.  Needs out/bench/bench-archive (make
# bench-bins).
set -eu
cd "$(dirname "$0")/.."
O=${O:-out}
B=$O/bench/bench-archive
W=${KILN_BENCH_DIR:-/var/tmp/kiln-bench}
SIZE_MB=${KILN_BENCH_MB:-300}
RUNS=${KILN_BENCH_RUNS:-3}
if [ -z "${KILN_BENCH_X:-}" ] && [ -d /dev/shm ]; then
	X=/dev/shm/kiln-bench-x
else
	X=${KILN_BENCH_X:-$W/x}
fi
[ -x "$B" ] || make -s bench-bins
mkdir -p "$W"

if [ ! -d "$W/tree" ]; then
	echo "building a ~${SIZE_MB} MB tree from /usr in $W/tree" >&2
	mkdir -p "$W/tree.tmp"
	for d in /usr/include /usr/libexec /usr/share/doc /usr/share/man \
		/usr/share/locale /usr/share/perl /usr/share/i18n /usr/bin \
		/usr/lib/python3; do
		[ -d "$d" ] || continue
		cp -a "$d" "$W/tree.tmp/$(echo "$d" | tr / _)" 2>/dev/null || true
		[ "$(du -sm "$W/tree.tmp" | cut -f1)" -ge "$SIZE_MB" ] && break
	done
	mv "$W/tree.tmp" "$W/tree"
fi
if [ ! -f "$W/layer.tar.gz" ]; then
	tar -C "$W/tree" -cf "$W/layer.tar" .
	gzip -6 -c "$W/layer.tar" >"$W/layer.tar.gz"
fi
tree_mb=$(du -sm "$W/tree" | cut -f1)
tar_mb=$(($(stat -c %s "$W/layer.tar") / 1048576))
gz_mb=$(($(stat -c %s "$W/layer.tar.gz") / 1048576))
files=$(find "$W/tree" | wc -l)
echo "tree: ${tree_mb} MB, $files entries; tar ${tar_mb} MB, tar.gz ${gz_mb} MB"

now() { date +%s.%N; }
# time_cmd VAR CMD...: best of $RUNS runs of CMD (each after a fresh
# extraction directory), seconds stored in VAR
time_cmd() {
	var=$1
	shift
	best=
	i=0
	while [ $i -lt "$RUNS" ]; do
		fresh
		sync
		t0=$(now)
		"$@" >/dev/null
		t1=$(now)
		d=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then
			best=$d
		fi
		i=$((i + 1))
	done
	eval "$var=$best"
}
fresh() { rm -rf "$X"; mkdir -p "$X"; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

cat "$W/layer.tar.gz" "$W/layer.tar" >/dev/null # warm the cache

echo
echo "== gzip layer: decompress + extract into $X (best of $RUNS)"
time_cmd t_kiln "$B" extract "$W/layer.tar.gz" "$X"
time_cmd t_kiln_zlib "$B" extract "$W/layer.tar.gz" "$X" zlib
time_cmd t_tar tar -xzf "$W/layer.tar.gz" -C "$X"
printf '%-32s %7.2fs\n' "kiln (ISA-L inflate)" "$t_kiln"
printf '%-32s %7.2fs  (%sx kiln)\n' "kiln (zlib inflate)" "$t_kiln_zlib" \
	"$(ratio "$t_kiln_zlib" "$t_kiln")"
printf '%-32s %7.2fs  (%sx kiln)\n' "tar -xzf (GNU tar + gzip)" "$t_tar" \
	"$(ratio "$t_tar" "$t_kiln")"
if command -v pigz >/dev/null; then
	time_cmd t_pigz sh -c "pigz -dc '$W/layer.tar.gz' | tar -x -C '$X'"
	printf '%-32s %7.2fs  (%sx kiln)\n' "pigz -d | tar -x" "$t_pigz" \
		"$(ratio "$t_pigz" "$t_kiln")"
else
	echo "pigz -d | tar -x                 (pigz not installed)"
fi
rm -rf "$X"

echo
echo "== gzip: decompress only, to nowhere (best of $RUNS)"
time_cmd g_isal "$B" gunzip "$W/layer.tar.gz"
time_cmd g_zlib "$B" gunzip "$W/layer.tar.gz" zlib
time_cmd g_gzip sh -c "gzip -dc '$W/layer.tar.gz' >/dev/null"
printf '%-32s %7.2fs\n' "kiln ISA-L (+2 sha256)" "$g_isal"
printf '%-32s %7.2fs  (%sx kiln)\n' "kiln zlib (+2 sha256)" "$g_zlib" \
	"$(ratio "$g_zlib" "$g_isal")"
printf '%-32s %7.2fs  (%sx kiln)\n' "gzip -dc" "$g_gzip" \
	"$(ratio "$g_gzip" "$g_isal")"

echo
echo "== tree -> gzip layer (tar + compress + digests, best of $RUNS)"
time_cmd c_isal "$B" layer "$W/tree" "$W/out-isal.tgz"
time_cmd c_zlib1 "$B" layer "$W/tree" "$W/out-zlib1.tgz" zlib 1
time_cmd c_zlib6 "$B" layer "$W/tree" "$W/out-zlib6.tgz" zlib 6
time_cmd c_gzip1 sh -c "tar -C '$W/tree' -cf - . | gzip -1 >'$W/out-gzip1.tgz'"
time_cmd c_gzip6 sh -c "tar -C '$W/tree' -cf - . | gzip -6 >'$W/out-gzip6.tgz'"
for v in isal zlib1 zlib6 gzip1 gzip6; do
	eval "s_$v=$(($(stat -c %s "$W/out-$v.tgz") / 1048576))"
done
printf '%-32s %7.2fs  %4s MB\n' "kiln ISA-L level 1" "$c_isal" "$s_isal"
printf '%-32s %7.2fs  %4s MB  (%sx kiln)\n' "kiln zlib level 1" "$c_zlib1" \
	"$s_zlib1" "$(ratio "$c_zlib1" "$c_isal")"
printf '%-32s %7.2fs  %4s MB  (%sx kiln)\n' "kiln zlib level 6" "$c_zlib6" \
	"$s_zlib6" "$(ratio "$c_zlib6" "$c_isal")"
printf '%-32s %7.2fs  %4s MB  (%sx kiln)\n' "tar -c | gzip -1" "$c_gzip1" \
	"$s_gzip1" "$(ratio "$c_gzip1" "$c_isal")"
printf '%-32s %7.2fs  %4s MB  (%sx kiln)\n' "tar -c | gzip -6" "$c_gzip6" \
	"$s_gzip6" "$(ratio "$c_gzip6" "$c_isal")"
rm -f "$W"/out-*.tgz
rm -rf "$X"
