#!/bin/bash
# kiln build: failures say what failed in one clear line, exit 1 and leave
# the store exactly as it was; Ctrl-C during a RUN leaves nothing behind.
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-build.sh"

P=ROOT,OVERLAY,BUSYBOX,BUILD

test_expect_success $P 'set up' '
	import_busybox &&
	mkdir -p "$TRASH/ctx" && cd "$TRASH/ctx" &&
	echo a >a.txt && echo b >b.log &&
	printf "# logs\n*.log\n" >.dockerignore &&
	store_tree >"$TRASH/before"
'

# fails CODE PATTERN [ARGS...]: kiln build ARGS . fails with exit CODE,
# stderr matches PATTERN, and the store is unchanged.
fails() {
	local code=$1 pat=$2
	shift 2
	test_must_fail $code kiln build -q "$@" . 2>err &&
	cat err &&
	test_grep -E "$pat" err &&
	store_tree >"$TRASH/after" &&
	test_cmp "$TRASH/before" "$TRASH/after" &&
	test -z "$(ls -A "$KILN_ROOT/tmp")"
}

test_expect_success $P 'a missing COPY source names the file and the context' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN echo ok >/ok\nCOPY nope.txt /\n" >Dockerfile &&
	fails 1 "\"nope.txt\" not found in build context $TRASH/ctx"
'

test_expect_success $P 'a source excluded by .dockerignore names the line' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nCOPY b.log /\n" >Dockerfile &&
	fails 1 "excluded by .dockerignore:2 \(\"\*.log\"\)"
'

test_expect_success $P 'a failing RUN shows the command, status and output' '
	cd "$TRASH/ctx" &&
	cat >Dockerfile <<-\EOF &&
	FROM busybox
	COPY a.txt /
	RUN echo first-line; echo second-line >&2; exit 3
	EOF
	fails 1 "RUN echo first-line.*exit code: 3" -t must-not:exist &&
	grep -q "second-line" err &&
	test_must_fail kiln inspect must-not:exist
'

test_expect_success $P 'unknown target' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox AS one\nRUN true\n" >Dockerfile &&
	fails 1 "target stage \"two\" could not be found" --target two
'

test_expect_success $P 'unknown stage in COPY --from is an image that is not there' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nCOPY --from=nosuch /x /x\n" >Dockerfile &&
	fails 1 "image \"nosuch\" not found in the local store, and pulling it failed: .*127.0.0.1:1/.*library/nosuch"
'

test_expect_success $P 'a --chown user that does not exist' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nCOPY --chown=bob a.txt /\n" >Dockerfile &&
	fails 1 "Dockerfile:2: --chown=bob: unable to find user bob"
'

test_expect_success $P 'a missing required secret' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok\n" >Dockerfile &&
	fails 1 "secret tok not found"
'

test_expect_success $P 'a missing base image' '
	cd "$TRASH/ctx" &&
	printf "FROM nope:1\nRUN true\n" >Dockerfile &&
	fails 1 "image \"nope:1\" not found in the local store, and pulling it failed: .*127.0.0.1:1/.*library/nope"
'

test_expect_success $P 'a Dockerfile error carries its line' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nCOPPY a /\n" >Dockerfile &&
	fails 1 "Dockerfile:2: unknown instruction: COPPY"
'

test_expect_success $P 'Ctrl-C during a RUN leaves nothing behind' '
	cd "$TRASH/ctx" &&
	cat >Dockerfile <<-\EOF &&
	FROM busybox
	COPY a.txt /
	RUN echo started; sleep 37.25; echo never
	EOF
	{ "$KILN_BIN" build --progress=plain -t intr:1 . >log 2>&1 & } &&
	pid=$! &&
	for i in $(seq 100); do grep -q started log 2>/dev/null && break; sleep 0.1; done &&
	grep -q started log &&
	kill -INT $pid &&
	{ wait $pid; rc=$?; } &&
	test "$rc" = 130 &&
	grep -q "error: interrupted" log &&
	! pgrep -f "sleep 37.25" &&
	! grep -q "$KILN_ROOT" /proc/mounts &&
	test -z "$(ls -A "$KILN_ROOT/tmp")" &&
	store_tree >"$TRASH/after" &&
	test_cmp "$TRASH/before" "$TRASH/after"
'

test_done
