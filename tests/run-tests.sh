#!/bin/sh
# run-tests.sh all|unit|conformance|integration
#
# Runs kiln's TAP-producing tests and prints one summary line:
#   N passed, N failed, N skipped
# Exit status is non-zero when anything failed (or a test program crashed).
# $O is the make output directory (out or out/san).
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-out}
what=${1:-all}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0 crashed=0

# run NAME CMD...: run one TAP producer, echo its output, count results.
run() {
	name=$1
	shift
	echo "*** $name"
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out"
	[ -s "$tmp/err" ] && sed 's/^/# stderr: /' "$tmp/err" | head -n 40
	p=$(grep -c '^ok ' "$tmp/out" | tr -d ' ')
	s=$(grep -ci '^ok [0-9]* # skip' "$tmp/out" | tr -d ' ')
	f=$(grep -c '^not ok ' "$tmp/out" | tr -d ' ')
	pass=$((pass + p - s))
	skip=$((skip + s))
	# a whole program skipped ("1..0 # SKIP reason") counts as one skip
	if grep -qi '^1\.\.0 # skip' "$tmp/out"; then
		skip=$((skip + 1))
	fi
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		fail=$((fail + 1))
		crashed=1
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$O"/tests/t-*; do
		[ -x "$t" ] || continue
		run "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = conformance ]; then
	for t in "$O"/tests/c-*; do
		[ -x "$t" ] || continue
		run "conformance/$(basename "$t")" "$t" "${KILN_CORPUS:-../shared/corpus}"
	done
	for t in tests/conformance/c-*.sh; do
		[ -f "$t" ] || continue
		run "conformance/$(basename "$t")" bash "$t"
	done
fi
# Under scripts/test.sh the unit and conformance tests run again, built
# with ASan+UBSan in $SAN_O.
if [ -n "${SAN_O:-}" ] && { [ "$what" = all ] || [ "$what" = unit ]; }; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for t in "$SAN_O"/tests/t-* "$SAN_O"/tests/c-*; do
		[ -x "$t" ] || continue
		case $t in *.d|*.o) continue ;; esac
		run "asan/$(basename "$t")" "$t" "${KILN_CORPUS:-../shared/corpus}"
	done
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
	for t in tests/t/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		run "t/$(basename "$t")" bash "$t"
	done
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
