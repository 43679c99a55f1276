#!/bin/bash
# kiln build: the build cache — content keys (touch is a hit, an edit
# rebuilds from the first COPY that includes the file), ARG changes,
# --no-cache, a stage shared by two targets built once, persistence.
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-build.sh"

P=ROOT,OVERLAY,BUSYBOX,BUILD

test_expect_success $P 'set up' '
	import_busybox &&
	mkdir -p "$TRASH/ctx" && cd "$TRASH/ctx" &&
	echo one >one.txt && echo two >two.txt &&
	cat >Dockerfile <<-\EOF
	FROM busybox
	COPY one.txt /
	RUN cat /one.txt >/copy1
	COPY two.txt /
	RUN cat /two.txt >/copy2
	EOF
	kiln build --progress=plain -t c:1 . >log &&
	test "$(count_cached log)" = 1
'

test_expect_success $P 'a rebuild is fully cached, same image' '
	cd "$TRASH/ctx" &&
	kiln build -q -t c:1 . >id1 &&
	kiln build --progress=plain -t c:1 . >log &&
	test "$(count_cached log)" = 5 &&
	kiln build -q -t c:1 . >id2 &&
	test_cmp id1 id2
'

test_expect_success $P 'touching a file is still a hit' '
	cd "$TRASH/ctx" &&
	touch -d "2001-01-01" one.txt two.txt &&
	kiln build --progress=plain -t c:1 . >log &&
	test "$(count_cached log)" = 5 &&
	kiln build -q -t c:1 . >id3 &&
	test_cmp id1 id3
'

test_expect_success $P 'an edit rebuilds from the first COPY including it' '
	cd "$TRASH/ctx" &&
	echo changed >two.txt &&
	kiln build --progress=plain -t c:2 . >log &&
	grep -A1 "COPY one.txt" log | grep -q CACHED &&
	grep -A1 "RUN cat /one.txt" log | grep -q CACHED &&
	! grep -A1 "COPY two.txt" log | grep -q CACHED &&
	! grep -A1 "RUN cat /two.txt" log | grep -q CACHED &&
	image_fs c:2 fs && test "$(cat fs/copy2)" = changed
'

test_expect_success $P 'the cache persists across processes and is content based' '
	cd "$TRASH/ctx" &&
	echo two >two.txt &&
	kiln build -q -t c:3 . >id4 &&
	test_cmp id1 id4
'

test_expect_success $P 'a changed ARG invalidates from its first use' '
	mkdir -p "$TRASH/arg" && cd "$TRASH/arg" &&
	cat >Dockerfile <<-\EOF
	FROM busybox
	RUN echo before >/before
	ARG V=1
	RUN echo "v=$V" >/v
	EOF
	kiln build --progress=plain --build-arg V=1 -t a:1 . >log1 &&
	kiln build --progress=plain --build-arg V=1 -t a:1 . >log2 &&
	test "$(count_cached log2)" = 3 &&
	kiln build --progress=plain --build-arg V=2 -t a:2 . >log3 &&
	grep -A1 "RUN echo before" log3 | grep -q CACHED &&
	! grep -A1 "RUN echo \"v=" log3 | grep -q CACHED &&
	image_fs a:2 fs && test "$(cat fs/v)" = v=2
'

test_expect_success $P '--no-cache runs every step' '
	cd "$TRASH/ctx" &&
	kiln build --no-cache --progress=plain -t c:4 . >log &&
	test "$(count_cached log)" = 1 &&
	grep -q "^#.* FROM busybox" log
'

test_expect_success $P 'a stage shared by two others is built once' '
	mkdir -p "$TRASH/shared" && cd "$TRASH/shared" &&
	cat >Dockerfile <<-\EOF
	FROM busybox AS base
	RUN echo "built-once $(date +%s%N)" >/stamp && echo BASE-RAN
	FROM base AS left
	RUN cp /stamp /left
	FROM base AS right
	RUN cp /stamp /right
	FROM busybox
	COPY --from=left /left /
	COPY --from=right /right /
	EOF
	kiln build --progress=plain -t s:1 . >log &&
	test "$(grep -c "^#[0-9]* [0-9.]* BASE-RAN$" log)" = 1 &&
	image_fs s:1 fs && test_cmp fs/left fs/right
'

test_expect_success $P 'independent stages run in parallel' '
	mkdir -p "$TRASH/par" && cd "$TRASH/par" &&
	cat >Dockerfile <<-\EOF
	FROM busybox AS a
	RUN sleep 1 && echo a >/a
	FROM busybox AS b
	RUN sleep 1 && echo b >/b
	FROM busybox
	COPY --from=a /a /
	COPY --from=b /b /
	EOF
	start=$(date +%s%N) &&
	kiln build -q --jobs 2 -t p:1 . >/dev/null &&
	end=$(date +%s%N) &&
	test $(( (end - start) / 1000000 )) -lt 1900
'

test_done
