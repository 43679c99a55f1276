#!/bin/bash
# Crash safety: kiln import and kiln load killed with SIGKILL at random
# moments (often mid-extraction: layers are extracted while they stream),
# and made to _exit at every write point in turn
# (KILN_TEST_DIE_AFTER_WRITES), always leave a store that fsck finds
# consistent, with every earlier image intact and every layer dir complete.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
BB=$TRASH/bb.tar
KILLS=${KILN_CRASH_KILLS:-24}

# A ~96 MB root file system of incompressible files: big enough that a
# kill lands in the middle of streaming, compressing, hashing or renaming.
make_big_tar() {
	local d=$TRASH/big
	mkdir -p "$d/data" && cp -a /bin/busybox "$d/" &&
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
		head -c 8000000 /dev/urandom >"$d/data/f$i" || return 1
	done &&
	tar -C "$d" -cf "$1" . && rm -rf "$d"
}

# layers_complete: every dir under layers/ is one of the two layers, whole
# (entries, modes, sizes as the tarball has them).
layers_complete() {
	local d big bb
	big=$(cat "$TRASH/big.diffid") bb=$(cat "$TRASH/bb.diffid")
	for d in "$KILN_ROOT"/layers/*; do
		[ -e "$d" ] || continue
		case ${d##*/} in
		"${big#sha256:}") tree_listing "$d" | cmp -s - "$TRASH/big.list" ;;
		"${bb#sha256:}") tree_listing "$d" | cmp -s - "$TRASH/bb.list" ;;
		*) false ;;
		esac || { echo "incomplete or unknown layer dir $d"; return 1; }
	done
}

# intact: fsck is clean, the images of the setup are all there, and every
# layer dir is complete.
intact() {
	kiln fsck -q &&
	kiln inspect base:1 base:big >/dev/null &&
	kiln history base:1 >/dev/null &&
	layers_complete
}

test_expect_success 'setup' '
	kiln import "$BB" base:1 &&
	make_big_tar "$TRASH/big.tar" &&
	kiln import "$TRASH/big.tar" base:big &&
	kiln import -m other "$TRASH/big.tar" tosave:1 &&
	kiln save -o "$TRASH/big-save.tar" tosave:1 &&
	kiln rmi tosave:1 >/dev/null &&
	kiln prune >/dev/null &&
	diffid_of base:big >"$TRASH/big.diffid" &&
	diffid_of base:1 >"$TRASH/bb.diffid" &&
	mkdir ref && tar -C ref -xf "$TRASH/big.tar" &&
	tree_listing ref >"$TRASH/big.list" && rm -rf ref &&
	mkdir ref && tar -C ref -xf "$BB" &&
	tree_listing ref >"$TRASH/bb.list" && rm -rf ref &&
	intact
'

# kill_at CMD...: start CMD, SIGKILL it after a random 0-600 ms.
kill_at() {
	"$@" >/dev/null 2>&1 &
	local pid=$!
	sleep "0.$(printf %03d $((RANDOM % 600)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	return 0
}

test_expect_success "kill -9 of kiln import at $KILLS random moments" '
	for i in $(seq $KILLS); do
		kill_at "$KILN_BIN" import "$TRASH/big.tar" crash:$i &&
		intact || { echo "after kill $i"; kiln fsck; return 1; }
	done
'

# prune -a drops the layer dirs first: each import extracts a new layer.
test_expect_success "kill -9 of kiln import mid-extraction of a new layer dir" '
	for i in $(seq $((KILLS / 2))); do
		kiln prune -a >/dev/null &&
		test ! -e "$KILN_ROOT/layers/$(cut -c8- "$TRASH/big.diffid")" &&
		kill_at "$KILN_BIN" import "$TRASH/big.tar" crash:new$i &&
		intact || { echo "after kill $i"; kiln fsck; return 1; }
	done
'

test_expect_success "kill -9 of kiln load at $KILLS random moments" '
	for i in $(seq $KILLS); do
		kill_at "$KILN_BIN" load -i "$TRASH/big-save.tar" &&
		intact || { echo "after kill $i"; kiln fsck; return 1; }
	done
'

test_expect_success 'images that made it are complete; prune reclaims the rest' '
	kiln images >out &&
	kiln prune >/dev/null &&
	tmp_is_empty &&
	intact &&
	kiln import "$TRASH/big.tar" final:1 >/dev/null &&
	layer_matches "$(cat "$TRASH/big.diffid")" "$TRASH/big.tar" &&
	for r in $(kiln images --format json | python3 -c "import json,sys
for l in sys.stdin:
    d = json.loads(l)
    print(d[\"Repository\"] + \":\" + d[\"Tag\"])"); do
		kiln save "$r" >/dev/null || return 1
	done
'

# die_at_every_point CMD...: run CMD with KILN_TEST_DIE_AFTER_WRITES=0,1,2,...
# until it completes; after each death the store must be intact.
die_at_every_point() {
	local n=0 rc
	while :; do
		KILN_TEST_DIE_AFTER_WRITES=$n "$@" >/dev/null 2>&1
		rc=$?
		intact || { echo "after dying at write point $n"; kiln fsck; return 1; }
		[ $rc = 99 ] || break
		n=$((n + 1))
		[ $n -lt 400 ] || { echo "never completed"; return 1; }
	done
	[ $rc = 0 ] || [ "$rc" = "${DIE_OK_RC:-0}" ] ||
		{ echo "exit $rc after $n points"; return 1; }
	echo "# $n write points" >&2
}

test_expect_success 'import dies at every write point in turn' '
	gzip -c "$BB" >bb.tar.gz &&
	die_at_every_point "$KILN_BIN" import bb.tar.gz det:import &&
	kiln inspect det:import >/dev/null
'

test_expect_success 'load dies at every write point in turn' '
	KILN_ROOT=$TRASH/src "$KILN_BIN" import -m src "$BB" det:load >/dev/null &&
	KILN_ROOT=$TRASH/src "$KILN_BIN" save -o small.tar det:load &&
	die_at_every_point "$KILN_BIN" load -i small.tar &&
	kiln inspect det:load >/dev/null
'

test_expect_success 'tag and rmi die at every write point in turn' '
	die_at_every_point "$KILN_BIN" tag base:1 det:tag &&
	kiln inspect det:tag >/dev/null &&
	kiln import -m rmi "$BB" det:rmi >/dev/null &&
	DIE_OK_RC=1 die_at_every_point "$KILN_BIN" rmi det:tag det:rmi &&
	test_must_fail kiln inspect det:tag 2>/dev/null &&
	test_must_fail kiln inspect det:rmi 2>/dev/null
'

test_done
