#!/bin/bash
# kiln build against BuildKit: each case in tests/buildkit/cases is built by
# kiln and compared (config fields and file tree) with what BuildKit built,
# recorded in tests/buildkit/expected (re-record with record.sh where
# dockerd runs; see docs/DEVELOPERS.md).
. "$(dirname "$0")/test-lib.sh"

BK=$SRC_DIR/tests/buildkit
if kiln build --help >/dev/null 2>&1; then
	test_set_prereq BUILD
fi

test_expect_success ROOT,OVERLAY,BUSYBOX,BUILD 'set up the busybox base image' '
	rootfs=$("$SRC_DIR/tests/images/make-rootfs.sh" busybox) &&
	kiln import --change "CMD [\"sh\"]" \
		--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"$rootfs" busybox:latest
'

for expected in "$BK"/expected/*.json; do
	case=$(basename "$expected" .json)
	test_expect_success ROOT,OVERLAY,BUSYBOX,BUILD "same image as BuildKit: $case" "
		'$BK/compare.sh' '$BK/cases/$case' '$expected'
	"
done

test_done
