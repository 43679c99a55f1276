#!/bin/bash
# The registry client against a real docker-registry on 127.0.0.1 over
# plain HTTP (marked insecure): manifests, blobs verified against their
# digest, HEAD fallback, retries, range resume, parallel pulls, uploads.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox-static"

start_registry reg || exit 1
R=$REGISTRY
make_image "$TRASH/img" latest --extra-layer-kb 3072 &&
	seed_registry "$TRASH/img" latest "$R/library/busybox:latest" || exit 1
make_image "$TRASH/multi" latest --platform linux/amd64 \
	--platform linux/arm64/v8 --platform linux/arm/v7 &&
	seed_registry "$TRASH/multi" latest "$R/multi/bb:latest" || exit 1
cat >"$TRASH/insecure.conf" <<EOF
[[registry]]
location = "$R"
insecure = true
EOF
export CONTAINERS_REGISTRIES_CONF=$TRASH/insecure.conf
MDIGEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$TRASH/img/index.json")
LAYER=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/blobs/sha256/"+sys.argv[2][7:])); l=m["layers"][-1]; print(l["digest"], l["size"])' "$TRASH/img" "$MDIGEST")
LDIGEST=${LAYER% *}
LSIZE=${LAYER#* }

test_expect_success 'resolve a tag over http (insecure)' '
	registry_get resolve -o m.json $R/library/busybox:latest >out &&
	test "$(head -n1 out)" = "$MDIGEST" &&
	test_grep "application/vnd.oci.image.manifest.v1+json" out &&
	cmp m.json "$TRASH/img/blobs/sha256/${MDIGEST#sha256:}"
'

test_expect_success 'resolve by digest' '
	registry_get resolve $R/library/busybox@$MDIGEST >out &&
	test "$(head -n1 out)" = "$MDIGEST"
'

test_expect_success 'a loopback registry is insecure by default, as in docker' '
	CONTAINERS_REGISTRIES_CONF=/dev/null \
	registry_get resolve $R/library/busybox >out &&
	test "$(head -n1 out)" = "$MDIGEST"
'

test_expect_success 'with --tls-verify=true a plain-http registry is refused' '
	CONTAINERS_REGISTRIES_CONF=/dev/null \
	test_must_fail registry_get --tls-verify=true resolve $R/library/busybox 2>err &&
	test_grep "wrong version number\|TLS" err
'

test_expect_success '--tls-verify=false allows http' '
	CONTAINERS_REGISTRIES_CONF=/dev/null \
	registry_get --tls-verify=false resolve $R/library/busybox >out &&
	test "$(head -n1 out)" = "$MDIGEST"
'

test_expect_success 'an unknown tag is a clear not-found error' '
	test_must_fail registry_get resolve $R/library/busybox:nope 2>err &&
	test_grep "404 not found.*MANIFEST_UNKNOWN" err
'

test_expect_success 'fetch a blob, verified against digest and size' '
	registry_get blob $R/library/busybox $LDIGEST $LSIZE >blob &&
	cmp blob "$TRASH/img/blobs/sha256/${LDIGEST#sha256:}"
'

test_expect_success 'a wrong size is refused' '
	test_must_fail registry_get blob $R/library/busybox $LDIGEST 12 \
		>/dev/null 2>err &&
	test_grep "more bytes than its size" err
'

test_expect_success 'pull an image: every blob, in parallel' '
	registry_get --parallel 4 pull $R/library/busybox pulled >out &&
	test "$(cat out)" = "$MDIGEST" &&
	diff -r "$TRASH/img/blobs" pulled/blobs
'

test_expect_success 'a multi-platform index picks the platform asked for' '
	registry_get --platform linux/arm64 resolve -o arm64.json \
		$R/multi/bb >out &&
	test_grep "\"digest\"" arm64.json &&
	registry_get --platform linux/arm/v7 resolve $R/multi/bb >out2 &&
	registry_get --platform linux/amd64 resolve $R/multi/bb >out3 &&
	test "$(head -n1 out)" != "$(head -n1 out2)" &&
	test "$(head -n1 out2)" != "$(head -n1 out3)" &&
	registry_get --platform linux/arm64/v8 pull $R/multi/bb arm &&
	cfg=$(python3 -c "import json,sys; print(json.load(open(\"arm64.json\"))[\"config\"][\"digest\"][7:])") &&
	test_grep "\"architecture\": \"arm64\"" arm/blobs/sha256/$cfg
'

test_expect_success 'the default platform is the host'"'"'s' '
	registry_get resolve -o host.json $R/multi/bb >out &&
	registry_get --platform linux/amd64 resolve $R/multi/bb >amd &&
	case $(uname -m) in x86_64) test_cmp amd out ;; *) true ;; esac
'

test_expect_success 'a platform the index lacks is a clear error' '
	test_must_fail registry_get --platform linux/s390x resolve \
		$R/multi/bb 2>err &&
	test_grep "no image for platform linux/s390x.*linux/arm64/v8" err
'

test_expect_success 'the index itself is available unresolved' '
	registry_get manifest $R/multi/bb >idx.json &&
	test_grep "application/vnd.oci.image.index.v1+json" idx.json
'

test_expect_success 'push: monolithic, then existing blobs are skipped' '
	registry_get push "$TRASH/img" $R/pushed/mono:v1 >out &&
	test_grep "uploaded" out &&
	test "$(tail -n1 out)" = "$MDIGEST" &&
	registry_get push "$TRASH/img" $R/pushed/mono:v2 >out2 &&
	! grep uploaded out2 && test_grep exists out2 &&
	skopeo inspect --raw --tls-verify=false docker://$R/pushed/mono:v1 >raw &&
	cmp raw "$TRASH/img/blobs/sha256/${MDIGEST#sha256:}"
'

test_expect_success 'push: cross-repository mount' '
	registry_get --mount-from library/busybox push "$TRASH/img" \
		$R/pushed/mounted:v1 >out &&
	test "$(grep -c mounted out)" = 3 &&
	skopeo copy -q --src-tls-verify=false \
		docker://$R/pushed/mounted:v1 oci:copy:v1
'

test_expect_success 'push: chunked upload (PATCH with Content-Range)' '
	registry_get --chunk-size 300000 push "$TRASH/img" \
		$R/pushed/chunked:v1 >out &&
	test_grep uploaded out &&
	registry_get pull $R/pushed/chunked:v1 back &&
	diff -r "$TRASH/img/blobs" back/blobs
'

test_expect_success 'skopeo reads what the client pushed, byte for byte' '
	skopeo copy -q --src-tls-verify=false docker://$R/pushed/chunked:v1 \
		oci:sk:v1 &&
	for f in "$TRASH"/img/blobs/sha256/*; do
		cmp "$f" sk/blobs/sha256/$(basename $f) || return 1
	done
'

corrupt_blob() { # digest: flip a byte of the registry's stored copy
	local f=$TRASH/reg/data/docker/registry/v2/blobs/sha256/${1:7:2}/${1#sha256:}/data
	python3 -c "import sys; f=open(sys.argv[1],\"r+b\"); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0]^1]))" "$f"
}

test_expect_success 'a corrupted blob in the registry is a digest mismatch' '
	make_image img2 latest --extra-layer-kb 64 &&
	seed_registry img2 latest $R/corrupt/bb:latest &&
	registry_get resolve -o m.json $R/corrupt/bb >/dev/null &&
	d=$(python3 -c "import json; print(json.load(open(\"m.json\"))[\"layers\"][-1][\"digest\"])") &&
	corrupt_blob $d &&
	test_must_fail registry_get blob $R/corrupt/bb $d >/dev/null 2>err &&
	test_grep "digest mismatch" err &&
	test_must_fail registry_get pull $R/corrupt/bb pc 2>err &&
	test_grep "digest mismatch" err &&
	! test -e pc/blobs/sha256/${d#sha256:}
'

# A misbehaving proxy in front of the registry.
proxy() { # name args...: start fault-proxy, set PX to its address
	local port
	port=$(free_port)
	start_fixture "$1" $port python3 "$FIXTURES/fault-proxy.py" $port \
		$REGISTRY_PORT "$TRASH/$1.requests" "${@:2}"
	PX=127.0.0.1:$port
}
px_conf() {
	cat <<-EOF
	[[registry]]
	location = "$1"
	insecure = true
	EOF
}

proxy p405 --head-405
test_expect_success 'HEAD refused (405) falls back to GET' '
	px_conf $PX >c && CONTAINERS_REGISTRIES_CONF=c \
	registry_get head $PX/library/busybox >out &&
	test_grep "^$MDIGEST application/vnd.oci.image.manifest.v1+json" out &&
	test_grep "^HEAD .* 405" "$TRASH/p405.requests" &&
	test_grep "^GET /v2/library/busybox/manifests/latest 200" "$TRASH/p405.requests"
'

proxy p503 --fail-blob 2:503
test_expect_success 'blob GETs answered 503 are retried' '
	px_conf $PX >c && CONTAINERS_REGISTRIES_CONF=c \
	registry_get blob $PX/library/busybox $LDIGEST $LSIZE >blob &&
	cmp blob "$TRASH/img/blobs/sha256/${LDIGEST#sha256:}" &&
	test "$(grep -c " 503" "$TRASH/p503.requests")" = 2
'

proxy p429 --fail-blob 1:429
test_expect_success '429 is retried after Retry-After' '
	px_conf $PX >c &&
	start=$(date +%s%N) &&
	CONTAINERS_REGISTRIES_CONF=c \
	registry_get blob $PX/library/busybox $LDIGEST $LSIZE >blob &&
	end=$(date +%s%N) &&
	cmp blob "$TRASH/img/blobs/sha256/${LDIGEST#sha256:}" &&
	test $(( (end - start) / 1000000 )) -ge 900
'

proxy pfail --fail-blob 100:503
test_expect_success 'retries give up with a clear error' '
	px_conf $PX >c && CONTAINERS_REGISTRIES_CONF=c KILN_REGISTRY_RETRIES=2 \
	test_must_fail registry_get blob $PX/library/busybox $LDIGEST \
		>/dev/null 2>err &&
	test_grep "503" err &&
	test "$(grep -c " 503" "$TRASH/pfail.requests")" = 3
'

proxy pdrop --drop-blob 2:500000
test_expect_success 'a dropped connection resumes with a Range request' '
	px_conf $PX >c && CONTAINERS_REGISTRIES_CONF=c \
	registry_get blob $PX/library/busybox $LDIGEST $LSIZE >blob &&
	cmp blob "$TRASH/img/blobs/sha256/${LDIGEST#sha256:}" &&
	test_grep "bytes=500000-" "$TRASH/pdrop.requests" &&
	test_grep "bytes=1000000-" "$TRASH/pdrop.requests"
'

proxy pnorange --drop-blob 1:400000 --ignore-range
test_expect_success 'a server ignoring Range still gives each byte once' '
	px_conf $PX >c && CONTAINERS_REGISTRIES_CONF=c \
	registry_get blob $PX/library/busybox $LDIGEST $LSIZE >blob &&
	cmp blob "$TRASH/img/blobs/sha256/${LDIGEST#sha256:}"
'

test_expect_success 'a registry killed mid-pull and restarted: the pull completes' '
	make_image big latest --extra-layer-kb 8192 &&
	seed_registry big latest $R/big/bb:latest || return 1
	(KILN_DEBUG=1 KILN_REGISTRY_MAX_SPEED=300000 KILN_REGISTRY_RETRIES=8 \
		registry_get --parallel 1 pull $R/big/bb \
		bigpull >out 2>err; echo $? >rc) &
	pull=$!
	# stop it once the big blob is flowing (its headers are in the log)
	wait_for err "Content-Length: [0-9]\{7,\}" 20 &&
	sleep 0.5 &&
	stop_registry reg &&
	sleep 1 &&
	restart_registry reg &&
	wait $pull &&
	test "$(cat rc)" = 0 &&
	test_grep "resuming at byte" err &&
	diff -r big/blobs bigpull/blobs
'

test_expect_success 'a registry that stays down gives a clear error' '
	px_conf 127.0.0.1:1 >c && CONTAINERS_REGISTRIES_CONF=c \
	test_must_fail registry_get resolve 127.0.0.1:1/library/busybox 2>err &&
	test_grep "127.0.0.1:1.*Connection refused\|127.0.0.1:1.*connect" err
'

test_expect_success 'NO_PROXY keeps the registry off a dead proxy' '
	http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 \
	no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 \
	registry_get resolve $R/library/busybox >out &&
	test "$(head -n1 out)" = "$MDIGEST" &&
	http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 \
	no_proxy= NO_PROXY= \
	test_must_fail registry_get resolve $R/library/busybox 2>err &&
	test_grep -i "proxy\|127.0.0.1:1\|connect" err
'

test_done
