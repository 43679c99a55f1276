#!/bin/bash
# bench/registry.sh — kiln pull / kiln push of the golang image against a
# local docker-registry on 127.0.0.1, compared with skopeo copy (and
# buildah pull when installed).  One timed run each; prints wall seconds
# and the ratio other/kiln (> 1 means kiln is faster).
#
# What each tool does differs and the numbers say so: kiln pull stores the
# blobs and decompresses each layer once on the way to record its diffID;
# skopeo copy to an OCI layout only copies and verifies the blobs; buildah
# pull also extracts every layer into its storage.
#
# Input: $ROOTFS_TAR, else /var/tmp/kiln-cache/golang-rootfs.tar made by
# tests/images/make-rootfs.sh golang.
set -u
cd "$(dirname "$0")/.."
SRC=$PWD
KILN=${KILN_BIN:-$SRC/kiln}
CACHE=/var/tmp/kiln-cache
ROOTFS=${ROOTFS_TAR:-$CACHE/golang-rootfs.tar}
[ -s "$ROOTFS" ] || ROOTFS=$(bash tests/images/make-rootfs.sh golang) || exit 1
for t in docker-registry skopeo python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP needs $t"; exit 0; }
done
W=$(mktemp -d /var/tmp/kiln-bench-registry.XXXXXX)
cleanup() {
	local pid
	if [ -f "$W/pids" ]; then
		while read -r pid; do kill "$pid" 2>/dev/null; done <"$W/pids"
		wait 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT

# The image as an OCI layout, cached (gzip of ~600 MB takes a while).
LAYOUT=$CACHE/golang-oci-layout
if [ ! -s "$LAYOUT/index.json" ] || [ "$ROOTFS" -nt "$LAYOUT/index.json" ]; then
	echo "# making $LAYOUT" >&2
	rm -rf "$LAYOUT.tmp"
	python3 tests/fixtures/make-oci-layout.py "$LAYOUT.tmp" latest "$ROOTFS" >/dev/null &&
		rm -rf "$LAYOUT" && mv "$LAYOUT.tmp" "$LAYOUT" || exit 1
fi

REG_PIDS=()
# start_reg NAME: a docker-registry with its own storage; prints host:port
start_reg() {
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$W/$1"
	cat >"$W/$1.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/$1
http:
  addr: 127.0.0.1:$port
EOF
	docker-registry serve "$W/$1.yml" >"$W/$1.log" 2>&1 &
	echo $! >>"$W/pids"
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	echo 127.0.0.1:$port
}
R=$(start_reg src)
# pushes go to registries of their own: nothing to mount or skip
RK=$(start_reg dst-kiln)
RS=$(start_reg dst-skopeo)
skopeo copy -q --dest-tls-verify=false oci:"$LAYOUT":latest \
	docker://$R/library/golang:1.19 || exit 1
for r in $R $RK $RS; do
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' $r
done >"$W/r.conf"
export CONTAINERS_REGISTRIES_CONF=$W/r.conf
SIZE=$(du -sm "$LAYOUT/blobs" | cut -f1)

now() { date +%s.%N; }
declare -A T
timeit() {
	local name=$1 t0 t1
	shift
	sync
	t0=$(now)
	"$@" >"$W/out.$name" 2>&1 || { echo "$name failed:"; tail -5 "$W/out.$name"; exit 1; }
	t1=$(now)
	T[$name]=$(echo "$t1 - $t0" | bc)
	printf '%-28s %7.2f s\n' "$name" "${T[$name]}"
}
ratio() { printf '  %s / %s = %.2f\n' "$2" "$1" "$(echo "${T[$2]} / ${T[$1]}" | bc -l)"; }

echo "# image: golang ($SIZE MB compressed), registry $R"
echo "# pull"
timeit kiln-pull env KILN_ROOT="$W/kiln" "$KILN" pull -q $R/library/golang:1.19
timeit skopeo-copy-pull skopeo copy -q --src-tls-verify=false \
	docker://$R/library/golang:1.19 oci:"$W/sk":latest
ratio kiln-pull skopeo-copy-pull
if command -v buildah >/dev/null; then
	timeit buildah-pull buildah --root "$W/b" --runroot "$W/br" \
		--storage-driver vfs pull -q --tls-verify=false \
		$R/library/golang:1.19
	ratio kiln-pull buildah-pull
fi
echo "# push (each to an empty registry)"
timeit kiln-push env KILN_ROOT="$W/kiln" "$KILN" push -q \
	$R/library/golang:1.19 $RK/bench/golang:1
timeit skopeo-copy-push skopeo copy -q --dest-tls-verify=false \
	oci:"$W/sk":latest docker://$RS/bench/golang:1
ratio kiln-push skopeo-copy-push
