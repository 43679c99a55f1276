#!/bin/bash
# Fault injection: write(2), fsync(2) and rename(2) failing with ENOSPC or
# EIO (tests/helpers/faultinject.c via LD_PRELOAD) make kiln import, load
# and tag fail with one clear line and leave the store exactly as it was.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
test_have_prereq FAULTINJECT || test_skip_all "no $FAULTINJECT (make test-bins)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
BB=$TRASH/bb.tar

test_expect_success 'setup' '
	kiln import "$BB" base:1 >/dev/null &&
	KILN_ROOT=$TRASH/src "$KILN_BIN" import -m src "$BB" fromsave:1 >/dev/null &&
	KILN_ROOT=$TRASH/src "$KILN_BIN" save -o "$TRASH/save.tar" fromsave:1 &&
	kiln fsck -q
'

# faulty KIND N ERRNO CMD...: run CMD with the Nth+1 call of KIND failing;
# when it fails, it must say so in one line and change nothing.
faulty() {
	local kind=$1 n=$2 eno=$3 rc
	shift 3
	store_listing >"$TRASH/before"
	env LD_PRELOAD="$FAULTINJECT" FAULT_ERRNO=$eno "FAULT_${kind}_AFTER=$n" \
		"$@" >"$TRASH/out" 2>"$TRASH/err"
	rc=$?
	if [ $rc = 0 ]; then
		kiln fsck -q || return 1
		echo ok >"$TRASH/succeeded"
		return 0
	fi
	[ $rc = 1 ] || { echo "$kind/$n: exit $rc"; cat "$TRASH/err"; return 1; }
	[ "$(wc -l <"$TRASH/err")" = 1 ] ||
		{ echo "$kind/$n: not one line:"; cat "$TRASH/err"; return 1; }
	case $eno in
	ENOSPC) grep -q "No space left on device" "$TRASH/err" ;;
	EIO) grep -q "Input/output error" "$TRASH/err" ;;
	esac || { echo "$kind/$n: error does not name the cause:"; cat "$TRASH/err"; return 1; }
	store_listing >"$TRASH/after"
	diff -u "$TRASH/before" "$TRASH/after" ||
		{ echo "$kind/$n: store changed"; return 1; }
	tmp_is_empty || { echo "$kind/$n: tmp not empty"; ls -la "$KILN_ROOT/tmp"; return 1; }
	kiln fsck -q
}

# every_fault CMD...: each kind, each errno, failing at call 0..12
every_fault() {
	local kind eno n
	for kind in WRITE FSYNC RENAME; do
		for eno in ENOSPC EIO; do
			for n in 0 1 2 3 4 5 6 8 10 12 16 20; do
				faulty $kind $n $eno "$@" || return 1
			done
		done
	done
}

test_expect_success 'import under write/fsync/rename faults' '
	every_fault "$KILN_BIN" import -m faulty "$BB" fault:import &&
	kiln inspect base:1 >/dev/null
'

test_expect_success 'load under write/fsync/rename faults' '
	kiln rmi fromsave:1 >/dev/null 2>&1
	every_fault "$KILN_BIN" load -i "$TRASH/save.tar" &&
	kiln inspect base:1 >/dev/null
'

test_expect_success 'tag under write/fsync/rename faults' '
	kiln rmi fault:tag >/dev/null 2>&1
	every_fault "$KILN_BIN" tag base:1 fault:tag
'

test_expect_success 'an error message names the failing operation' '
	test_must_fail 1 env LD_PRELOAD="$FAULTINJECT" FAULT_ERRNO=ENOSPC \
		FAULT_WRITE_AFTER=0 "$KILN_BIN" import -m x "$BB" x:1 2>err &&
	test_grep "^error: .*write .*: No space left on device$" err
'

test_done
