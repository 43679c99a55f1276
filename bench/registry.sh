#!/bin/bash
# bench/registry.sh — kiln pull / kiln push of the golang image against a
# local docker-registry on 127.0.0.1, compared with docker pull (dockerd,
# when it runs), buildah pull (overlay storage, private root) and skopeo
# copy (push; and pull into an OCI layout, which does not extract).
#
# Pulls start from an empty store and include extraction: kiln extracts
# each layer while it streams, docker and buildah extract into their
# overlay storage.  The image is a variant of the golang root file system
# (one extra file) so that no local daemon already has its layer: dockerd
# here keeps golang:1.19, whose layer would otherwise "Already exist".
# After each docker run the pulled image is removed (docker rmi, never the
# daemon's other images) and the file system given $BENCH_SETTLE seconds
# (default 65) to settle, as at the start: ext4 slows file creation for a
# while after a mass deletion, which would penalise whoever runs next.
# The pullers take turns, run after run.  Pushes go to an empty registry
# each.  Before each run: sync and drop the page cache (as root).  Each
# figure is the median of $BENCH_RUNS runs (default 3); ratios are
# other / kiln (> 1: kiln is faster).
#
# Input: $ROOTFS_TAR, else /var/tmp/kiln-cache/golang-rootfs.tar made by
# tests/images/make-rootfs.sh golang.
set -u
cd "$(dirname "$0")/.."
SRC=$PWD
KILN=${KILN_BIN:-$SRC/kiln}
RUNS=${BENCH_RUNS:-3}
SETTLE=${BENCH_SETTLE:-65}
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
	grep -o " $W/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

# The image as an OCI layout, cached (gzip of ~600 MB takes a while).
LAYOUT=$CACHE/golang-bench-oci-layout
if [ ! -s "$LAYOUT/index.json" ] || [ "$ROOTFS" -nt "$LAYOUT/index.json" ]; then
	echo "# making $LAYOUT" >&2
	rm -rf "$LAYOUT.tmp" "$LAYOUT.tar"
	python3 - "$ROOTFS" "$LAYOUT.tar" <<-\PY || exit 1
	import io, shutil, sys, tarfile
	shutil.copyfile(sys.argv[1], sys.argv[2])
	with tarfile.open(sys.argv[2], "a") as t:
	    data = b"kiln bench: a layer no local daemon has\n"
	    i = tarfile.TarInfo("etc/kiln-bench")
	    i.size = len(data)
	    t.addfile(i, io.BytesIO(data))
	PY
	python3 tests/fixtures/make-oci-layout.py "$LAYOUT.tmp" latest "$LAYOUT.tar" >/dev/null &&
		rm -rf "$LAYOUT" "$LAYOUT.tar" && mv "$LAYOUT.tmp" "$LAYOUT" || exit 1
fi

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
skopeo copy -q --dest-tls-verify=false oci:"$LAYOUT":latest \
	docker://$R/library/golang:1.19 || exit 1
# pushes go to registries of their own, empty: nothing to mount or skip
declare -A DST
for RUN in $(seq "$RUNS"); do
	DST[kiln.$RUN]=$(start_reg dst-kiln.$RUN)
	DST[skopeo.$RUN]=$(start_reg dst-skopeo.$RUN)
done
for r in $R "${DST[@]}"; do
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' $r
done >"$W/r.conf"
export CONTAINERS_REGISTRIES_CONF=$W/r.conf
if [ -f /work/shared/peers/config/containers.conf ]; then
	cp /work/shared/peers/config/containers.conf "$W/containers.conf"
else
	printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
		>"$W/containers.conf"
fi
export CONTAINERS_CONF=$W/containers.conf
SIZE=$(du -sm "$LAYOUT/blobs" | cut -f1)
IMG=$R/library/golang:1.19

now() { date +%s.%N; }
declare -A T
prep() {
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	return 0
}
# group NAME FN AFTER [NAME FN AFTER...]: RUNS rounds, each running every
# FN (with $RUN set to the round) after prep and AFTER (untimed, "-" for
# nothing) after it; then prints each NAME's min / median / max wall
# seconds, T[NAME] = median
group() {
	local name fn after t0 t1 i
	local -a names=() fns=() afters=()
	declare -A times=()
	while [ $# -gt 0 ]; do
		names+=("$1") fns+=("$2") afters+=("$3")
		shift 3
	done
	for RUN in $(seq "$RUNS"); do
		for i in "${!names[@]}"; do
			name=${names[$i]} fn=${fns[$i]} after=${afters[$i]}
			prep
			t0=$(now)
			$fn >"$W/out.$fn.$RUN" 2>&1 || {
				echo "$name failed:"
				tail -5 "$W/out.$fn.$RUN"
				exit 1
			}
			t1=$(now)
			times[$name]+=" $(echo "$t1 - $t0" | bc)"
			[ "$after" = - ] || $after
		done
	done
	for name in "${names[@]}"; do
		read -r min med max < <(printf '%s\n' ${times[$name]} | sort -g |
			awk '{v[NR] = $1} END {print v[1], v[int((NR + 1) / 2)], v[NR]}')
		T[$name]=$med
		printf "%-28s %7.2f s   (min %.2f, max %.2f, n=%d)\n" "$name" \
			"$med" "$min" "$max" "$RUNS"
	done
}
ratio() {
	[ -n "${T[$1]:-}" ] && [ -n "${T[$2]:-}" ] || return 0
	printf "  %-20s / %-10s = %6.2fx%s\n" "$1" "$2" \
		"$(echo "${T[$1]} / ${T[$2]}" | bc -l)" "${3:+   $3}"
}

kiln_pull() {
	env KILN_ROOT="$W/kiln.$RUN" "$KILN" pull -q "$IMG" &&
		[ "$(ls "$W/kiln.$RUN/layers" | wc -l)" = 1 ]
}
skopeo_pull() {
	skopeo copy -q --src-tls-verify=false "docker://$IMG" "oci:$W/sk.$RUN:latest"
}
buildah_pull() {
	buildah --root "$W/b.$RUN" --runroot "$W/br.$RUN" --storage-driver overlay \
		pull -q --tls-verify=false "$IMG"
}
docker_pull() { docker pull -q "$IMG"; }
docker_rmi() {
	docker rmi "$IMG" >/dev/null
	sync
sleep "$SETTLE"
}
kiln_push() {
	env KILN_ROOT="$W/kiln.1" "$KILN" push -q "$IMG" "${DST[kiln.$RUN]}/bench/golang:1"
}
skopeo_push() {
	skopeo copy -q --dest-tls-verify=false "oci:$W/sk.1:latest" \
		"docker://${DST[skopeo.$RUN]}/bench/golang:1"
}

echo "# image: golang variant ($SIZE MB compressed, one layer), registry $R"
echo "# each: median of $RUNS, page cache dropped before each run"
PULLERS=(kiln-pull kiln_pull -)
command -v buildah >/dev/null && PULLERS+=(buildah-pull buildah_pull -)
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	DIFFID=$(python3 -c 'import json,sys
d=sys.argv[1]; b=lambda x: d+"/blobs/sha256/"+x[7:]
m=json.load(open(b(json.load(open(d+"/index.json"))["manifests"][0]["digest"])))
print(json.load(open(b(m["config"]["digest"])))["rootfs"]["diff_ids"][0])' "$LAYOUT")
	if docker image inspect $(docker images -q) --format '{{json .RootFS.Layers}}' 2>/dev/null |
		grep -q "$DIFFID"; then
		echo "# docker pull skipped: dockerd already has layer $DIFFID"
	else
		PULLERS+=(docker-pull docker_pull docker_rmi)
	fi
fi
sync
sleep "$SETTLE"
echo "# pull into an empty store, extraction included"
group "${PULLERS[@]}"
echo "# pull into an OCI layout (no extraction)"
group skopeo-copy-pull skopeo_pull -
echo "# push (each to an empty registry)"
group kiln-push kiln_push - skopeo-copy-push skopeo_push -
echo
echo "ratios (other / kiln; > 1: kiln is faster)"
ratio docker-pull kiln-pull "target >= 4"
ratio buildah-pull kiln-pull "target >= 4"
ratio skopeo-copy-pull kiln-pull "(skopeo does not extract)"
ratio skopeo-copy-push kiln-push "target >= 1"
