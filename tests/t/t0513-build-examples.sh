#!/bin/bash
# kiln build: the Go and C examples build, their binaries run, the
# multi-stage images are within 5 % of docker's size, and a fully cached
# rebuild touches nothing.
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-build.sh"

P=ROOT,OVERLAY,BUILD
EX=$SRC_DIR/examples
SIZES=$SRC_DIR/tests/buildkit/example-sizes.tsv

import_toolchain golang 2>/dev/null && test_set_prereq GOLANG
import_toolchain gcc 2>/dev/null && test_set_prereq GCC
[ -x /bin/busybox ] && import_busybox 2>/dev/null && test_set_prereq BBIMAGE

# within5 IMAGE: its size (sum of the uncompressed layers) within 5 % of
# what docker reported for it.
within5() {
	local want have
	want=$(awk -v i="$1" '$1 == i { print $2 }' "$SIZES") &&
	have=$(kiln inspect "$1" | sed -n 's/.*"Size": \([0-9]*\).*/\1/p' | head -1) &&
	echo "size $1: $have (docker: $want)" &&
	test $((have * 100)) -ge $((want * 95)) &&
	test $((have * 100)) -le $((want * 105))
}

test_expect_success $P,GOLANG 'Go multi-stage: builds, runs, size' '
	kiln build -q -f "$EX/go-hello/Dockerfile.multi" -t helloworld:multi "$EX/go-hello" &&
	image_fs helloworld:multi fs &&
	fs/helloworld >out && test_grep "Hello world" out &&
	within5 helloworld:multi
'

test_expect_success $P,GOLANG 'Go multi-stage rebuild: all cached, same ID' '
	kiln build -q -f "$EX/go-hello/Dockerfile.multi" -t helloworld:multi "$EX/go-hello" >id1 &&
	kiln build --progress=plain -f "$EX/go-hello/Dockerfile.multi" -t helloworld:multi "$EX/go-hello" >log &&
	! grep -q "DONE" log &&
	kiln build -q -f "$EX/go-hello/Dockerfile.multi" -t helloworld:multi "$EX/go-hello" >id2 &&
	test_cmp id1 id2
'

podman_setup
test_expect_success $P,GOLANG,PODMANROOT 'kiln save of the multi-stage image runs in podman' '
	kiln save -o hw.tar helloworld:multi &&
	podman_ load -i hw.tar >out 2>&1 &&
	podman_ run --rm --network=none helloworld:multi >pout 2>perr ||
	{ cat out perr; false; } &&
	test_grep "^Hello world from Go!$" pout
'

test_expect_success $P,GOLANG,BBIMAGE 'Go on busybox with the compliance files' '
	kiln build -q -f "$EX/go-hello/Dockerfile.multi-busybox" -t helloworld:multi-busybox "$EX/go-hello" &&
	image_fs helloworld:multi-busybox fs &&
	fs/helloworld >out && test_grep "Hello world" out &&
	test -f fs/compliance/legal_terms.txt &&
	within5 helloworld:multi-busybox
'

test_expect_success $P,GCC 'C static binary on scratch' '
	kiln build -q -t hello-c:latest "$EX/c-hello" &&
	image_fs hello-c:latest fs &&
	fs/hello >out && test -s out &&
	within5 hello-c:latest
'

test_done
