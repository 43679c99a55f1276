#!/bin/bash
# Layer trees are renamed into place before they are on disk: each gets an
# unsynced/<hex> marker naming the boot it was written in.  A marker of an
# earlier boot means a crash may have torn the tree: the next store open
# drops it (and kiln run extracts it again from its blob); markers of this
# boot go after a syncfs once they are 30 s old (at the next command that
# writes to the store: readers never wait for a sync), or at kiln fsck.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
[ -r /proc/sys/kernel/random/boot_id ] || test_skip_all "no /proc/sys/kernel/random/boot_id"
BOOT=$(cat /proc/sys/kernel/random/boot_id)
OTHER=00000000-1111-2222-3333-444444444444

test_expect_success 'setup: an imported layer has a marker naming this boot' '
	kiln import "$TRASH/bb.tar" base:1 >/dev/null &&
	hex=$(diffid_of base:1 | cut -c8-) && echo $hex >hex &&
	test -d "$KILN_ROOT/layers/$hex" &&
	test "$(ls "$KILN_ROOT/unsynced")" = "$hex" &&
	test "$(cat "$KILN_ROOT/unsynced/$hex")" = "$BOOT"
'

test_expect_success 'a young marker stays; an old one goes at the next write' '
	hex=$(cat hex) &&
	kiln tag base:1 base:young >/dev/null &&
	test -f "$KILN_ROOT/unsynced/$hex" &&
	touch -d "-31 seconds" "$KILN_ROOT/unsynced/$hex" &&
	kiln images >/dev/null &&
	test -f "$KILN_ROOT/unsynced/$hex" &&
	kiln tag base:1 base:old >/dev/null &&
	test ! -e "$KILN_ROOT/unsynced/$hex" &&
	tree_listing "$KILN_ROOT/layers/$hex" >after &&
	layer_matches "sha256:$hex" "$TRASH/bb.tar"
'

test_expect_success 'kiln fsck settles every marker of this boot' '
	mkdir two && tar -C two -xf "$TRASH/bb.tar" && echo 2 >two/two &&
	tar --numeric-owner -C two -cf two.tar . &&
	kiln import two.tar base:2 >/dev/null &&
	test -n "$(ls "$KILN_ROOT/unsynced")" &&
	kiln fsck &&
	test -z "$(ls "$KILN_ROOT/unsynced")"
'

test_expect_success 'a tree of an earlier boot is dropped at the next open' '
	hex=$(cat hex) &&
	echo "$OTHER" >"$KILN_ROOT/unsynced/$hex" &&
	kiln images >out &&
	test_grep "^base " out &&
	test ! -e "$KILN_ROOT/layers/$hex" &&
	test ! -e "$KILN_ROOT/unsynced/$hex" &&
	kiln fsck
'

test_expect_success ROOT,OVERLAY 'kiln run extracts a dropped tree again from its blob' '
	hex=$(cat hex) &&
	test ! -e "$KILN_ROOT/layers/$hex" &&
	kiln run --rm base:1 cat /etc/passwd >out &&
	test_grep "^root:x:0:0:" out &&
	layer_matches "sha256:$hex" "$TRASH/bb.tar" &&
	test "$(cat "$KILN_ROOT/unsynced/$hex")" = "$BOOT"
'

test_expect_success 'while another process holds the store, an earlier boot waits; fsck reports it' '
	kiln import -m third "$TRASH/bb.tar" base:3 >/dev/null &&
	hex=$(cat hex) && kiln fsck && mkdir -p "$KILN_ROOT/unsynced" &&
	test -d "$KILN_ROOT/layers/$hex" &&
	echo "$OTHER" >"$KILN_ROOT/unsynced/$hex" &&
	{ (exec 9<"$KILN_ROOT/lock" && flock -s 9 && exec sleep 30) & } &&
	holder=$! &&
	sleep 0.3 &&
	kiln images >/dev/null &&
	test -d "$KILN_ROOT/layers/$hex" &&
	test_must_fail 1 kiln fsck >out 2>&1 &&
	test_grep "layers/$hex: not known to be on disk" out &&
	kill $holder && wait $holder;
	kiln images >/dev/null &&
	test ! -e "$KILN_ROOT/layers/$hex" &&
	kiln fsck
'

test_expect_success 'fsck --repair removes a stray file in unsynced/' '
	echo junk >"$KILN_ROOT/unsynced/junk" &&
	test_must_fail 1 kiln fsck >out 2>&1 &&
	test_grep "unsynced/junk: not a layer marker" out &&
	kiln fsck --repair >out 2>&1 &&
	test ! -e "$KILN_ROOT/unsynced/junk" &&
	kiln fsck
'

test_expect_success 'rmi and prune take the markers with the trees' '
	kiln import -m fourth "$TRASH/bb.tar" gone:1 >/dev/null &&
	hex=$(diffid_of gone:1 | cut -c8-) &&
	kiln rmi base:1 base:2 base:3 base:young base:old gone:1 >/dev/null &&
	kiln prune -a >/dev/null &&
	test ! -e "$KILN_ROOT/layers/$hex" &&
	test -z "$(ls "$KILN_ROOT/unsynced")" &&
	kiln fsck
'

test_done
