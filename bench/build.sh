#!/bin/bash
# bench/build.sh [RUNS] — kiln build against BuildKit (dockerd) and buildah
# on the Go multi-stage and C examples, base images already local:
#
#   cached   a fully cached rebuild
#   edit     a rebuild after editing the source (main.go / hello.c)
#   cold     a build with --no-cache
#   peak     peak memory of the builder during a cold build: the summed
#            PSS of its own processes (kiln; buildah + runc + conmon),
#            sampled by bench/peakmem.py — GNU time's figure would be the
#            compiler's, the same for every builder.  docker's work
#            happens in dockerd, so docker is compared by time only.
#
# Prints the median wall time of RUNS runs (default 5, after one warm-up)
# per tool and scenario, and the ratios peer/kiln.  Tools that are missing
# are skipped.  Uses its own kiln store ($KILN_BENCH_ROOT, default
# /var/tmp/kiln-bench-store) and buildah storage under /var/tmp.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN=${KILN:-$SRC/kiln}
RUNS=${1:-5}
export KILN_ROOT=${KILN_BENCH_ROOT:-/var/tmp/kiln-bench-store}
DOCKER=${DOCKER:-/usr/bin/docker}
BA_ROOT=${BUILDAH_BENCH_ROOT:-/var/tmp/kiln-bench-buildah}
BUILDAH=(buildah --root "$BA_ROOT/root" --runroot "$BA_ROOT/run"
	--storage-driver overlay)
TIME=/usr/bin/time
CACHE=/var/tmp/kiln-cache
work=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

have_docker=false have_buildah=false
if [ -x "$DOCKER" ] && DOCKER_BUILDKIT=1 "$DOCKER" version >/dev/null 2>&1; then
	have_docker=true
fi
command -v buildah >/dev/null && have_buildah=true
[ -x "$TIME" ] || { echo "GNU time is needed (apt-get install time)" >&2; exit 1; }

# ---------------------------------------------------------------- bases
kiln_import() { # name rootfs changes...
	local name=$1 rootfs=$2
	shift 2
	"$KILN" inspect "$name" >/dev/null 2>&1 && return 0
	local args=()
	for c in "$@"; do args+=(--change "$c"); done
	"$KILN" import "${args[@]}" "$rootfs" "$name" >/dev/null
}
kiln_import golang:1.19 "$CACHE/golang-rootfs.tar" 'CMD ["bash"]' \
	'ENV PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	'ENV GOPATH=/go' 'WORKDIR /go'
kiln_import gcc:12 "$CACHE/gcc-rootfs.tar" 'CMD ["bash"]' \
	'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
if $have_buildah; then
	for i in golang:1.19 gcc:12; do
		"${BUILDAH[@]}" inspect "$i" >/dev/null 2>&1 ||
			"${BUILDAH[@]}" pull -q "docker-daemon:$i" >/dev/null 2>&1 ||
			have_buildah=false
	done
fi

# ---------------------------------------------------------------- tools
# cmd_for TOOL DIR DOCKERFILE [--no-cache]: the build command in CMD
export DOCKER_BUILDKIT=1
cmd_for() {
	local tool=$1 dir=$2 df=$3
	shift 3
	case $tool in
	kiln) CMD=("$KILN" build -q "$@" -f "$dir/$df" -t bench:$tool "$dir") ;;
	docker) CMD=("$DOCKER" build -q --network=none "$@" -f "$dir/$df"
		-t bench:$tool "$dir") ;;
	buildah) CMD=("${BUILDAH[@]}" bud -q --runtime runc --network none
		--layers "$@" -f "$dir/$df" -t bench:$tool "$dir") ;;
	esac
}
build() {
	cmd_for "$@"
	"${CMD[@]}" >/dev/null 2>&1
}

# measure OUT CMD...: append "wall_seconds maxrss_kb" of one run to OUT
# (wall from the clock in ns, peak RSS from GNU time)
measure() {
	local out=$1 s e
	shift
	s=$(date +%s%N)
	cmd_for "$@"
	"$TIME" -f "%M" -o "$work/t" "${CMD[@]}" >/dev/null 2>&1 ||
		{ echo "failed: ${CMD[*]}" >&2; return 1; }
	e=$(date +%s%N)
	echo "$(awk -v n=$((e - s)) 'BEGIN { printf "%.3f", n / 1e9 }') $(tail -1 "$work/t")" >>"$out"
}

median() { # column file
	sort -n -k"$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

# scenario TOOL EXAMPLE: prints "cached edit cold peak"
scenario() {
	local tool=$1 ex=$2 dir df src
	dir=$work/$tool-$ex
	rm -rf "$dir"
	case $ex in
	go) cp -r "$SRC/examples/go-hello" "$dir"; df=Dockerfile.multi; src=$dir/src/main.go ;;
	c) cp -r "$SRC/examples/c-hello" "$dir"; df=Dockerfile; src=$dir/src/hello.c ;;
	esac
	local f=$work/$tool-$ex
	: >"$f.cached"; : >"$f.edit"; : >"$f.cold"
	build "$tool" "$dir" "$df"
	for i in $(seq "$RUNS"); do
		measure "$f.cached" "$tool" "$dir" "$df"
	done
	for i in $(seq "$RUNS"); do
		echo "// edit $i $RANDOM" >>"$src"
		measure "$f.edit" "$tool" "$dir" "$df"
	done
	build "$tool" "$dir" "$df" --no-cache
	for i in $(seq "$RUNS"); do
		measure "$f.cold" "$tool" "$dir" "$df" --no-cache
	done
	local names=kiln peak=0
	[ "$tool" = buildah ] && names=buildah,runc,conmon
	if [ "$tool" != docker ]; then
		cmd_for "$tool" "$dir" "$df" --no-cache
		peak=$(python3 "$HERE/peakmem.py" "$names" "${CMD[@]}")
	fi
	echo "$(median 1 "$f.cached") $(median 1 "$f.edit") $(median 1 "$f.cold") $peak"
}

tools=(kiln)
$have_docker && tools+=(docker)
$have_buildah && tools+=(buildah)

printf "%-8s %-4s %9s %9s %9s %10s\n" tool ex cached edit cold peak-PSS-KiB
declare -A R
for ex in go c; do
	for t in "${tools[@]}"; do
		r=$(scenario "$t" "$ex")
		R[$t-$ex]=$r
		read -r a b c d <<<"$r"
		printf "%-8s %-4s %8ss %8ss %8ss %10s\n" "$t" "$ex" "$a" "$b" "$c" "$d"
	done
done

echo
echo "ratios (peer time / kiln time; > 1 means kiln is faster):"
for ex in go c; do
	read -r ka kb kc kd <<<"${R[kiln-$ex]}"
	for t in "${tools[@]}"; do
		[ "$t" = kiln ] && continue
		read -r a b c d <<<"${R[$t-$ex]}"
		python3 - "$t" "$ex" "$a" "$b" "$c" "$d" "$ka" "$kb" "$kc" "$kd" <<'PY'
import sys
t, ex = sys.argv[1:3]
a, b, c, d, ka, kb, kc, kd = map(float, sys.argv[3:])
r = lambda x, y: "%.1fx" % (x / max(y, 0.005))
mem = "n/a (dockerd)" if t == "docker" else "kiln uses %.2fx of it" % (kd / max(d, 1))
print("  %-8s %-3s cached %s  edit %s  cold %s  peak-mem %s" %
      (t, ex, r(a, ka), r(b, kb), r(c, kc), mem))
PY
	done
done
