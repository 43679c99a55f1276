# test-lib.sh — git-style shell test library for kiln (bash).
#
#   . "$(dirname "$0")/test-lib.sh"
#   test_expect_success 'what it checks' '
#       kiln images >out &&
#       test_cmp expect out
#   '
#   test_expect_success ROOT,OVERLAY 'needs root' '...'
#   test_done
#
# Every test body runs in a fresh scratch directory ($TRASH) with KILN_ROOT
# pointing at a private store inside it.  Output is TAP; prerequisites that
# are missing turn a test into "ok N # skip ... (missing PREREQ)".

set -u
TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/../.." && pwd)
KILN_BIN=${KILN_BIN:-$SRC_DIR/kiln}
CORPUS=${KILN_CORPUS:-$SRC_DIR/../shared/corpus}
[ -d "$CORPUS" ] && CORPUS=$(cd "$CORPUS" && pwd)
TEST_DATA=$SRC_DIR/tests/data
test_name=$(basename "$0" .sh)
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/kiln-$test_name.XXXXXX")
export KILN_ROOT=$TRASH/store
test_count=0
test_failed=0
test_verbose=${TEST_VERBOSE:-}

kiln() { "$KILN_BIN" "$@"; }

test_cleanup_trash() {
	cd / && rm -rf "$TRASH"
}
trap test_cleanup_trash EXIT

# ---------------------------------------------------------------- prereqs
declare -A test_prereq_cache=()
test_have_prereq_one() {
	local p=$1
	if [ -n "${test_prereq_cache[$p]:-}" ]; then
		[ "${test_prereq_cache[$p]}" = yes ]
		return
	fi
	local r=no
	case $p in
	ROOT) [ "$(id -u)" = 0 ] && r=yes ;;
	USERNS) unshare --user true 2>/dev/null && r=yes ;;
	OVERLAY) grep -qw overlay /proc/filesystems && r=yes ;;
	CORPUS) [ -d "$CORPUS" ] && r=yes ;;
	REGISTRY) command -v docker-registry >/dev/null && r=yes ;;
	SKOPEO) command -v skopeo >/dev/null && r=yes ;;
	UMOCI) command -v umoci >/dev/null && r=yes ;;
	PODMAN) command -v podman >/dev/null && r=yes ;;
	RUNC) command -v runc >/dev/null && r=yes ;;
	BUSYBOX) [ -x /bin/busybox ] && r=yes ;;
	*)
		if [ -n "${test_prereq_set[$p]:-}" ]; then r=yes; fi
		;;
	esac
	test_prereq_cache[$p]=$r
	[ $r = yes ]
}
declare -A test_prereq_set=()
test_set_prereq() { test_prereq_set[$1]=1; test_prereq_cache[$1]=yes; }

test_missing_prereq=
test_have_prereq() {
	local IFS=, p
	test_missing_prereq=
	for p in $1; do
		test_have_prereq_one "$p" || test_missing_prereq=${test_missing_prereq:+$test_missing_prereq,}$p
	done
	[ -z "$test_missing_prereq" ]
}

# Skip a whole script: test_skip_all "reason"
test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# ---------------------------------------------------------------- runners
test_run_() {
	local body=$1
	(
		mkdir -p "$TRASH/w" && cd "$TRASH/w" || exit 1
		eval "$body"
	) >"$TRASH/log" 2>&1
}

test_expect_success() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local desc=$1 body=$2
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $desc (missing $test_missing_prereq)"
		return
	fi
	if test_run_ "$body"; then
		echo "ok $test_count - $desc"
		[ -n "$test_verbose" ] && sed 's/^/#   /' "$TRASH/log"
	else
		echo "not ok $test_count - $desc"
		sed 's/^/#   /' "$TRASH/log" | tail -n 40
		test_failed=$((test_failed + 1))
	fi
	return 0
}

test_expect_failure() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local desc=$1 body=$2
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $desc (missing $test_missing_prereq)"
		return
	fi
	if test_run_ "$body"; then
		echo "not ok $test_count - $desc (known breakage fixed?)"
		test_failed=$((test_failed + 1))
	else
		echo "ok $test_count - $desc # TODO known breakage"
	fi
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
	exit $?
}

# ---------------------------------------------------------------- helpers
test_cmp() { diff -u "$1" "$2"; }

# test_must_fail [STATUS] CMD...: CMD fails (not by a signal); with a numeric
# first argument the exit status must equal it.
test_must_fail() {
	local want=
	case $1 in [0-9]*) want=$1; shift ;; esac
	"$@"
	local rc=$?
	if [ $rc = 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	fi
	if [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo "test_must_fail: killed by signal $((rc - 128)): $*" >&2
		return 1
	fi
	if [ -n "$want" ] && [ "$rc" != "$want" ]; then
		echo "test_must_fail: exit $rc, want $want: $*" >&2
		return 1
	fi
	return 0
}

test_grep() {
	if ! grep "$@"; then
		echo "test_grep: no match for: $*" >&2
		local last
		for last; do :; done
		[ -f "$last" ] && sed 's/^/  | /' "$last" >&2
		return 1
	fi
}
