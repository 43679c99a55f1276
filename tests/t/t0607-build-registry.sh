#!/bin/bash
# kiln build and the registry: a missing base (FROM, COPY --from, RUN
# --mount from=) is pulled through registries.conf (an unmodified
# `FROM busybox` served by a company mirror), blocked registries are
# refused, --pull picks up a new base under the same tag (and the cache
# follows it), --push uploads every tag built, and an unreachable registry
# is one clear line.  With the cached golang rootfs, examples/go-hello
# builds in an empty store through the mirror.
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-build.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox-static"
P=ROOT,OVERLAY,BUILD

GOLANG_TAR=/var/tmp/kiln-cache/golang-rootfs.tar
[ -s "$GOLANG_TAR" ] && test_set_prereq GOLANG_ROOTFS

start_registry reg || exit 1
R=$REGISTRY
export HOME=$TRASH/home XDG_RUNTIME_DIR=$TRASH/run
mkdir -p "$XDG_RUNTIME_DIR"
unset REGISTRY_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
# the company-mirror pattern: docker.io names, served by the local registry
cat >"$TRASH/mirror.conf" <<EOF
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "$R"
insecure = true
[[registry]]
location = "$R"
insecure = true
[[registry]]
location = "$R/forbidden"
blocked = true
EOF
export CONTAINERS_REGISTRIES_CONF=$TRASH/mirror.conf
SEED=$TRASH/seed
# seed CMD...: run a kiln command against the seeding store
seed() { KILN_ROOT=$SEED "$KILN_BIN" "$@"; }
image_id() {
	kiln inspect "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d[0] if isinstance(d,list) else d)["Id"])'
}

test_expect_success $P 'set up: busybox and a marker image in the registry' '
	KILN_ROOT=$SEED import_busybox &&
	seed push -q busybox $R/library/busybox:latest &&
	mkdir -p "$TRASH/marker" && cd "$TRASH/marker" &&
	printf "FROM busybox\nRUN echo marked >/marker\n" >Dockerfile &&
	seed build -q -t $R/tools/marker:1 . >/dev/null &&
	seed push -q $R/tools/marker:1
'

test_expect_success $P 'kiln pull busybox through the mirror' '
	export KILN_ROOT=$PWD/pulled &&
	kiln pull busybox >out &&
	cat out &&
	test_grep "^Pulling docker.io/library/busybox:latest" out &&
	test_grep "Status: Downloaded newer image for busybox:latest" out &&
	test "$(image_id busybox)" = "$(KILN_ROOT=$SEED image_id busybox)" &&
	kiln pull busybox >out &&
	test_grep "Image is up to date for busybox:latest" out &&
	! test_grep "Pulling fs layer" out
'

test_expect_success $P 'an unmodified FROM busybox is pulled through the mirror' '
	mkdir -p ctx && cd ctx &&
	printf "FROM busybox\nRUN echo built >/built\n" >Dockerfile &&
	kiln build --progress=plain -t app:1 . >log 2>&1 &&
	cat log &&
	test_grep "\[internal\] pull busybox" log &&
	test_grep "Pull complete" log &&
	test_grep "docker.io/library/busybox:latest: downloaded newer image" log &&
	kiln run --rm app:1 cat /built >out &&
	test "$(cat out)" = built &&
	kiln images >imgs &&
	test_grep "^busybox  *latest" imgs &&
	kiln build --progress=plain -t app:1 . >log2 2>&1 &&
	! test_grep "\[internal\] pull" log2 &&
	test_grep "CACHED" log2
'

test_expect_success $P 'COPY --from and RUN --mount from= pull their images' '
	mkdir -p ctx && cd ctx &&
	cat >Dockerfile <<-EOF &&
	FROM busybox
	COPY --from=$R/tools/marker:1 /marker /copied
	RUN --mount=from=$R/tools/marker:1,target=/m cat /m/marker >/mounted
	EOF
	kiln build --progress=plain -t app:2 . >log 2>&1 &&
	cat log &&
	test "$(grep -c "\[internal\] pull $R/tools/marker:1" log)" = 1 &&
	kiln run --rm app:2 cat /copied /mounted >out &&
	printf "marked\nmarked\n" >expect &&
	test_cmp expect out
'

test_expect_success $P 'a blocked registry in FROM is refused, naming it' '
	mkdir -p ctx && cd ctx &&
	printf "FROM $R/forbidden/app:1\nRUN true\n" >Dockerfile &&
	test_must_fail kiln build -q . 2>err &&
	cat err &&
	test_grep "Dockerfile:1: image \"$R/forbidden/app:1\" not found in the local store, and pulling it failed: registry .$R/forbidden. is blocked" err &&
	test "$(wc -l <err)" = 1
'

test_expect_success $P '--pull picks up a new base under the same tag' '
	mkdir -p ctx && cd ctx &&
	printf "FROM busybox\nRUN ls /newer >/seen 2>&1 || echo none >/seen\n" >Dockerfile &&
	kiln build --progress=plain -t app:3 . >log 2>&1 &&
	kiln build --progress=plain --pull -t app:3 . >log 2>&1 &&
	cat log &&
	test_grep "busybox:latest: image is up to date" log &&
	test "$(count_cached log)" = 2 &&
	mkdir -p "$TRASH/newer" && cd "$TRASH/newer" &&
	printf "FROM busybox\nRUN touch /newer\n" >Dockerfile &&
	seed build -q -t $R/library/busybox:latest . >/dev/null &&
	seed push -q $R/library/busybox:latest &&
	cd "$TRASH/w/ctx" &&
	kiln build --progress=plain -t app:3 . >log 2>&1 &&
	test "$(count_cached log)" = 2 &&
	kiln build --progress=plain --pull -t app:3 . >log 2>&1 &&
	cat log &&
	test_grep "downloaded newer image" log &&
	test_grep "Already exists" log &&
	test "$(count_cached log)" = 1 &&
	kiln run --rm app:3 cat /seen >out &&
	test "$(cat out)" = /newer &&
	test "$(image_id busybox)" = "$(KILN_ROOT=$SEED image_id $R/library/busybox:latest)"
'

test_expect_success $P '--push pushes every tag built' '
	mkdir -p ctx && cd ctx &&
	printf "FROM busybox\nRUN echo pushed >/pushed\n" >Dockerfile &&
	kiln build --progress=plain --push -t $R/built/app:1 -t $R/built/app:2 . >log 2>&1 &&
	cat log &&
	test_grep "^pushing $R/built/app:1" log &&
	test_grep "^1: digest: sha256:[0-9a-f]* size:" log &&
	test_grep "^2: digest: sha256:[0-9a-f]* size:" log &&
	d=$(sed -n "s/^1: digest: \(sha256:[0-9a-f]*\) .*/\1/p" log) &&
	skopeo inspect --tls-verify=false docker://$R/built/app:1 >insp &&
	test_grep "\"Digest\": \"$d\"" insp &&
	skopeo inspect --tls-verify=false docker://$R/built/app:2 >insp &&
	test_grep "\"Digest\": \"$d\"" insp &&
	id=$(image_id $R/built/app:1) &&
	KILN_ROOT=$PWD/fresh kiln pull -q $R/built/app:2 &&
	test "$(KILN_ROOT=$PWD/fresh image_id $R/built/app:2)" = "$id"
'

test_expect_success $P '--push needs a tag' '
	mkdir -p ctx && cd ctx &&
	printf "FROM busybox\n" >Dockerfile &&
	test_must_fail 125 kiln build --push . 2>err &&
	test_grep "tag is needed when pushing" err
'

test_expect_success $P 'a missing base with no registry reachable: one line' '
	mkdir -p ctx && cd ctx &&
	cat >dead.conf <<-EOF &&
	[[registry]]
	prefix = "docker.io"
	location = "127.0.0.1:1"
	insecure = true
	[[registry.mirror]]
	location = "127.0.0.1:2"
	insecure = true
	EOF
	printf "FROM nothere:1\nRUN true\n" >Dockerfile &&
	test_must_fail kiln build -q --registries-conf dead.conf . 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	test_grep "image \"nothere:1\" not found in the local store, and pulling it failed: .*every endpoint failed: 127.0.0.1:2/library/nothere (mirror): .*; 127.0.0.1:1/library/nothere: " err
'

test_expect_success $P '--pull with no registry reachable fails, as docker does' '
	mkdir -p ctx && cd ctx &&
	printf "FROM busybox\nRUN true\n" >Dockerfile &&
	test_must_fail kiln build -q --pull --registries-conf dead.conf . 2>err &&
	cat err &&
	test_grep "\-\-pull: image \"busybox\": .*127.0.0.1:2/library/busybox (mirror)" err &&
	kiln build -q --registries-conf dead.conf . >/dev/null
'

test_expect_success $P,GOLANG_ROOTFS 'examples/go-hello builds in an empty store through the mirror' '
	KILN_ROOT=$SEED import_toolchain golang &&
	seed push -q golang:1.19 $R/library/golang:1.19 &&
	KILN_ROOT=$PWD/empty kiln build --progress=plain -t hello:multi \
		-f "$SRC_DIR/examples/go-hello/Dockerfile.multi" \
		"$SRC_DIR/examples/go-hello" >log 2>&1 &&
	test_grep "\[internal\] pull golang:1.19" log &&
	KILN_ROOT=$PWD/empty kiln run --rm hello:multi >out &&
	test_grep "Hello world from Go!" out
'

test_done
