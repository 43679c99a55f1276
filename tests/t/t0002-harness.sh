#!/bin/bash
# The test harness itself: tests/run-tests.sh counts every result into one
# "N passed, N failed, N skipped" line and fails on any failure or crash;
# test-lib.sh skips tests whose prerequisite is missing, saying which.
. "$(dirname "$0")/test-lib.sh"

# fake_unit NAME BODY: a TAP "unit test" program in the fake output dir.
fake_unit() {
	mkdir -p "$TRASH/o/tests" &&
	printf '#!/bin/sh\n%s\n' "$2" >"$TRASH/o/tests/$1" &&
	chmod +x "$TRASH/o/tests/$1"
}

test_expect_success 'run-tests.sh: summary line and exit status 0' '
	fake_unit t-pass "echo \"ok 1 - a\"; echo \"ok 2 # skip b (missing X)\"; echo 1..2" &&
	fake_unit t-skipall "echo \"1..0 # SKIP no corpus\"" &&
	env -u SAN_O O="$TRASH/o" sh "$SRC_DIR/tests/run-tests.sh" unit >out &&
	tail -n1 out >last &&
	echo "1 passed, 0 failed, 2 skipped" >expect &&
	test_cmp expect last
'

test_expect_success 'run-tests.sh: a failure or a crash makes it fail' '
	fake_unit t-fail "echo \"ok 1 - a\"; echo \"not ok 2 - b\"; echo 1..2; exit 1" &&
	fake_unit t-crash "echo \"ok 1 - a\"; kill -SEGV \$\$" &&
	test_must_fail 1 env -u SAN_O O="$TRASH/o" sh "$SRC_DIR/tests/run-tests.sh" unit >out &&
	test_grep "^not ok - unit/t-crash exited with status 139$" out &&
	tail -n1 out >last &&
	echo "3 passed, 2 failed, 2 skipped" >expect &&
	test_cmp expect last
'

test_expect_success 'test-lib: a missing prerequisite skips with the reason' '
	cat >"$TRASH/child.sh" <<-EOF &&
	. "$TEST_DIR/test-lib.sh"
	test_expect_success NO_SUCH_PREREQ "needs it" "false"
	test_expect_success "passes" "true"
	test_expect_success "fails" "echo why; false"
	test_done
	EOF
	test_must_fail 1 bash "$TRASH/child.sh" >out &&
	test_grep "^ok 1 # skip needs it (missing NO_SUCH_PREREQ)$" out &&
	test_grep "^ok 2 - passes$" out &&
	test_grep "^not ok 3 - fails$" out &&
	test_grep "^#   why$" out &&
	test_grep "^1\.\.3$" out
'

test_done
