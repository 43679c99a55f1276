#!/bin/bash
# kiln pull / kiln push against a real registry: docker.io names through
# registries.conf, byte-identical round trips, interop with skopeo, platform
# selection, a registry killed mid-pull, corrupted blobs, auth.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox-static"

start_registry reg || exit 1
R=$REGISTRY
make_image "$TRASH/img" latest &&
	seed_registry "$TRASH/img" latest "$R/library/busybox:latest" || exit 1
make_image "$TRASH/multi" latest --platform linux/amd64 \
	--platform linux/arm64/v8 --platform linux/s390x &&
	seed_registry "$TRASH/multi" latest "$R/multi/bb:latest" || exit 1
cat >"$TRASH/r.conf" <<EOF
[[registry]]
prefix = "docker.io"
location = "$R"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:1"
insecure = true
[[registry]]
location = "$R"
insecure = true
[[registry]]
location = "$R/forbidden"
blocked = true
EOF
export CONTAINERS_REGISTRIES_CONF=$TRASH/r.conf
export HOME=$TRASH/home XDG_RUNTIME_DIR=$TRASH/run
unset REGISTRY_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
IMG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$TRASH/img/index.json")
blob() { echo "$KILN_ROOT/blobs/sha256/${1#sha256:}"; }

test_expect_success 'kiln pull busybox: docker.io through registries.conf' '
	kiln pull busybox >out &&
	test_grep "^Status: Downloaded newer image for busybox:latest" out &&
	test "$(tail -n1 out)" = docker.io/library/busybox:latest &&
	kiln images >imgs &&
	test_grep "^busybox  *latest" imgs &&
	for f in "$TRASH"/img/blobs/sha256/*; do
		cmp "$f" "$(blob $(basename $f))" || return 1
	done &&
	kiln fsck
'

test_expect_success 'pulling again is up to date' '
	kiln pull busybox >out &&
	test_grep "Image is up to date" out &&
	! test_grep "Pulling fs layer" out
'

test_expect_success 'pull -q prints the name only' '
	kiln pull -q docker.io/library/busybox >out &&
	test "$(cat out)" = docker.io/library/busybox:latest
'

test_expect_success 'pull by digest' '
	kiln pull $R/library/busybox@$IMG >out &&
	test "$(tail -n1 out)" = "$R/library/busybox@$IMG"
'

test_expect_success 'push then pull: byte-identical manifest and blobs' '
	kiln push busybox $R/round/trip:1 >out &&
	test_grep "^1: digest: $IMG size:" out &&
	KILN_ROOT=$PWD/store2 kiln pull $R/round/trip:1 >out2 &&
	for f in "$KILN_ROOT"/blobs/sha256/*; do
		g=store2/blobs/sha256/$(basename $f)
		test -e "$g" || continue
		cmp "$f" "$g" || return 1
	done &&
	cmp "$(blob $IMG)" store2/blobs/sha256/${IMG#sha256:} &&
	KILN_ROOT=$PWD/store2 kiln fsck
'

test_expect_success 'pushing again skips every blob' '
	kiln push busybox $R/round/trip:2 >out &&
	test "$(grep -c "Layer already exists" out)" = 2
'

test_expect_success 'skopeo reads what kiln pushed' '
	skopeo copy -q --src-tls-verify=false docker://$R/round/trip:1 oci:sk:1 &&
	for f in sk/blobs/sha256/*; do
		cmp "$f" "$(blob $(basename $f))" || return 1
	done
'

test_expect_success 'kiln pulls what skopeo pushed in docker format' '
	skopeo copy -q --dest-tls-verify=false --format v2s2 \
		oci:"$TRASH/img":latest docker://$R/sk/docker:1 &&
	kiln pull $R/sk/docker:1 >out &&
	kiln inspect $R/sk/docker:1 >insp &&
	test_grep "ee87ffa0e4f5\|Id" insp
'

test_expect_success 'push --format docker converts the media types' '
	kiln push --format docker busybox $R/fmt/docker:1 >out &&
	skopeo inspect --raw --tls-verify=false docker://$R/fmt/docker:1 >raw &&
	test_grep "application/vnd.docker.distribution.manifest.v2+json" raw &&
	test_grep "application/vnd.docker.image.rootfs.diff.tar.gzip" raw &&
	kiln push --format oci $R/sk/docker:1 $R/fmt/oci:1 &&
	skopeo inspect --raw --tls-verify=false docker://$R/fmt/oci:1 >raw &&
	test_grep "application/vnd.oci.image.manifest.v1+json" raw
'

test_expect_success 'a multi-platform index: --platform picks the image' '
	kiln pull --platform linux/arm64 $R/multi/bb >out &&
	kiln inspect $R/multi/bb >insp &&
	test_grep "\"Architecture\": \"arm64\"" insp &&
	kiln pull --platform linux/s390x $R/multi/bb &&
	kiln inspect $R/multi/bb >insp &&
	test_grep "\"Architecture\": \"s390x\"" insp &&
	test_must_fail kiln pull --platform linux/mips $R/multi/bb 2>err &&
	test_grep "no image for platform linux/mips" err
'

test_expect_success 'a missing image is a clear error and changes nothing' '
	kiln images >before &&
	test_must_fail kiln pull $R/no/such:tag 2>err &&
	test_grep "not found" err &&
	kiln images >after &&
	test_cmp before after
'

test_expect_success 'a blocked registry is refused for pull and push' '
	test_must_fail kiln pull $R/forbidden/x 2>err &&
	test_grep "blocked" err &&
	test_must_fail kiln push busybox $R/forbidden/x 2>err &&
	test_grep "blocked" err
'

corrupt_blob() {
	local f=$TRASH/reg/data/docker/registry/v2/blobs/sha256/${1:7:2}/${1#sha256:}/data
	python3 -c "import sys; f=open(sys.argv[1],\"r+b\"); f.seek(50); b=f.read(1); f.seek(50); f.write(bytes([b[0]^1]))" "$f"
}

test_expect_success 'a corrupted blob fails the pull, leaves no tag, fsck is clean' '
	make_image bad latest --extra-layer-kb 32 &&
	seed_registry bad latest $R/bad/img:1 &&
	d=$(python3 -c "import json,sys; m=json.load(open(\"bad/blobs/sha256/\"+json.load(open(\"bad/index.json\"))[\"manifests\"][0][\"digest\"][7:])); print(m[\"layers\"][-1][\"digest\"])") &&
	corrupt_blob $d &&
	test_must_fail kiln pull $R/bad/img:1 2>err &&
	test_grep "digest mismatch" err &&
	! kiln images | grep bad/img &&
	! test -e "$(blob $d)" &&
	kiln fsck
'

test_expect_success 'a registry killed mid-pull: completes or fails clearly; fsck clean' '
	make_image big latest --extra-layer-kb 8192 &&
	seed_registry big latest $R/big/img:1 || return 1
	(KILN_REGISTRY_MAX_SPEED=3000000 KILN_REGISTRY_RETRIES=8 \
		kiln pull $R/big/img:1 >out 2>err; echo $? >rc) &
	pull=$!
	sleep 0.8 &&
	stop_registry reg &&
	sleep 1 &&
	restart_registry reg &&
	wait $pull &&
	if test "$(cat rc)" = 0; then
		test_grep "Downloaded newer image" out
	else
		test_grep "^error: " err
	fi &&
	kiln fsck &&
	kiln pull $R/big/img:1 >out &&
	test_grep "$R/big/img:1" out &&
	kiln fsck
'

test_expect_success 'a registry that stays dead: clear error, fsck clean' '
	stop_registry reg &&
	test_must_fail env KILN_REGISTRY_RETRIES=1 "$KILN_BIN" pull $R/big/img:1 2>err &&
	test_grep "Connection refused\|Couldn.t connect" err &&
	kiln fsck &&
	restart_registry reg
'

test_done
