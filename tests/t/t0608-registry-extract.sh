#!/bin/bash
# kiln pull extracts each layer while it streams: layers/<diffid>/ is there
# when the pull returns, also when the registry drops the connection
# mid-blob (Range resume, or a server that starts over), a layer whose dir
# exists is not extracted again, and a pull killed mid-extraction leaves a
# store fsck finds clean.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox-static"
command -v strace >/dev/null && test_set_prereq STRACE

start_registry reg || exit 1
R=$REGISTRY
make_image "$TRASH/img" latest --extra-layer-kb 3072 &&
	seed_registry "$TRASH/img" latest "$R/x/img:1" || exit 1
cat >"$TRASH/r.conf" <<EOF
[[registry]]
location = "$R"
insecure = true
EOF
export CONTAINERS_REGISTRIES_CONF=$TRASH/r.conf

# layers_of LAYOUT: "<diffid> <blob path>" per layer of the layout's image
layers_of() {
	python3 - "$1" <<-\PY
	import json, sys
	d = sys.argv[1]
	def blob(dg): return d + "/blobs/sha256/" + dg[7:]
	m = json.load(open(blob(json.load(open(d + "/index.json"))["manifests"][0]["digest"])))
	c = json.load(open(blob(m["config"]["digest"])))
	for l, i in zip(m["layers"], c["rootfs"]["diff_ids"]):
	    print(i, blob(l["digest"]))
	PY
}
# pulled_ok LAYOUT: every layer of the image has its complete layer dir
pulled_ok() {
	local id b
	layers_of "$1" >"$TRASH/layers" &&
	while read -r id b; do
		layer_matches "$id" "$b" || return 1
	done <"$TRASH/layers" &&
	tmp_is_empty && kiln fsck -q
}
proxy() { # name args...: start fault-proxy, set PX to its address
	local port
	port=$(free_port)
	start_fixture "$1" $port python3 "$FIXTURES/fault-proxy.py" $port \
		$REGISTRY_PORT "$TRASH/$1.requests" "${@:2}"
	PX=127.0.0.1:$port
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' $PX >"$TRASH/$1.conf"
}

test_expect_success 'pull extracts every layer as it streams' '
	kiln pull -q $R/x/img:1 >/dev/null &&
	pulled_ok "$TRASH/img" &&
	test $(ls "$KILN_ROOT/layers" | wc -l) = 2
'

test_expect_success STRACE 'pulling again extracts nothing' '
	strace -f -o trace -e trace=mkdir,mkdirat "$KILN_BIN" pull $R/x/img:1 >out &&
	test_grep "Image is up to date\|Already exists" out &&
	! grep "\.layer\"" trace
'

test_expect_success STRACE 'a layer whose dir exists is fetched, not extracted' '
	rm -rf "$KILN_ROOT" &&
	rootfs=$(bash "$SRC_DIR/tests/images/make-rootfs.sh" busybox) &&
	kiln import "$rootfs" local:1 >/dev/null &&
	test "$(layers_of "$TRASH/img" | head -n1 | cut -d" " -f1)" = "$(diffid_of local:1)" &&
	strace -f -o trace -e trace=mkdir,mkdirat "$KILN_BIN" pull -q $R/x/img:1 >/dev/null &&
	test $(grep -c "\.layer\"" trace) = 1 &&
	pulled_ok "$TRASH/img"
'

proxy pdrop --drop-blob 3:400000
test_expect_success 'a dropped connection resumes with Range; the layer is whole' '
	rm -rf "$KILN_ROOT" &&
	CONTAINERS_REGISTRIES_CONF=$TRASH/pdrop.conf kiln pull -q $PX/x/img:1 >/dev/null &&
	test_grep "bytes=400000-" "$TRASH/pdrop.requests" &&
	pulled_ok "$TRASH/img"
'

proxy pnorange --drop-blob 2:300000 --ignore-range
test_expect_success 'a server that starts over: each byte extracted once' '
	rm -rf "$KILN_ROOT" &&
	CONTAINERS_REGISTRIES_CONF=$TRASH/pnorange.conf kiln pull -q $PX/x/img:1 >/dev/null &&
	pulled_ok "$TRASH/img"
'

test_expect_success 'kill -9 mid-extraction: fsck clean, the next pull completes' '
	make_image big latest --extra-layer-kb 8192 &&
	seed_registry big latest $R/big/img:1 &&
	for i in 1 2 3 4 5 6; do
		rm -rf "$KILN_ROOT" &&
		(KILN_REGISTRY_MAX_SPEED=4000000 "$KILN_BIN" pull -q $R/big/img:1 \
			>/dev/null 2>&1 &
		 pid=$!
		 sleep "0.$((RANDOM % 9 + 1))"
		 kill -9 $pid 2>/dev/null
		 wait $pid 2>/dev/null; true) &&
		kiln fsck -q &&
		for d in "$KILN_ROOT"/layers/*; do
			[ -e "$d" ] || continue
			id=sha256:${d##*/} &&
			b=$(layers_of big | grep "^$id " | cut -d" " -f2) &&
			layer_matches "$id" "$b" || return 1
		done &&
		kiln pull -q $R/big/img:1 >/dev/null &&
		kiln prune >/dev/null &&
		pulled_ok big || return 1
	done
'

corrupt_blob() {
	local f=$TRASH/reg/data/docker/registry/v2/blobs/sha256/${1:7:2}/${1#sha256:}/data
	python3 -c "import sys; f=open(sys.argv[1],\"r+b\"); f.seek(-5000, 2); b=f.read(1); f.seek(-5000, 2); f.write(bytes([b[0]^1]))" "$f"
}
test_expect_success 'a corrupt layer: digest mismatch, no layer dir, nothing in tmp' '
	make_image bad latest --extra-layer-kb 64 &&
	seed_registry bad latest $R/bad/img:1 &&
	rm -rf "$KILN_ROOT" &&
	l=$(layers_of bad | tail -n1) &&
	corrupt_blob "$(basename "${l#* }" | sed "s/^/sha256:/")" &&
	test_must_fail kiln pull $R/bad/img:1 2>err &&
	test_grep "digest mismatch" err &&
	test ! -e "$KILN_ROOT/layers/$(echo "${l%% *}" | cut -c8-)" &&
	tmp_is_empty && kiln fsck -q
'

test_done
