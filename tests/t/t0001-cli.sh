#!/bin/bash
# The command line: version, help, unknown commands and flags.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'kiln --version' '
	kiln --version >out &&
	test_grep "^kiln version [0-9]" out
'

test_expect_success 'kiln version' '
	kiln version >out &&
	test_grep "^kiln version [0-9]" out
'

test_expect_success 'kiln help lists commands' '
	kiln help >out &&
	test_grep "^  version" out &&
	test_grep "^  help" out
'

test_expect_success 'kiln with no command prints help' '
	kiln >out &&
	test_grep "^Usage:" out
'

test_expect_success 'kiln COMMAND --help' '
	kiln version --help >out &&
	test_grep "^Usage:  kiln version" out
'

test_expect_success 'kiln help COMMAND' '
	kiln help version >out &&
	test_grep "^Usage:  kiln version" out
'

test_expect_success 'unknown command exits 125 with did-you-mean' '
	test_must_fail 125 kiln verison 2>err &&
	test_grep "unknown command: \"verison\"" err &&
	test_grep "Did you mean \"version\"" err
'

test_expect_success 'unknown flag exits 125' '
	test_must_fail 125 kiln version --bogus 2>err &&
	test_grep "unknown flag: --bogus" err &&
	test_grep "See .kiln version --help." err
'

test_expect_success 'unknown global flag exits 125' '
	test_must_fail 125 kiln --bogus version 2>err &&
	test_grep "unknown flag: --bogus" err
'

test_expect_success 'unknown shorthand flag exits 125' '
	test_must_fail 125 kiln version -z 2>err &&
	test_grep "unknown shorthand flag: .z." err
'

# Every command kiln help lists: --help prints its usage and exits 0; an
# unknown flag, long or short, exits 125 naming the flag.
test_expect_success 'every command: --help, -h, unknown flags' '
	kiln help >out &&
	sed -n "/^Commands:/,/^\$/s/^  \([a-z]*\) .*/\1/p" out >cmds &&
	test $(wc -l <cmds) -ge 10 &&
	while read -r c; do
		kiln $c --help >h || { echo "$c --help failed"; return 1; }
		grep -q "^Usage:  kiln $c" h || { echo "$c: no usage"; return 1; }
		kiln $c -h >h2 && test_cmp h h2 || return 1
		test_must_fail 125 kiln $c --no-such-flag 2>err &&
		test_grep "unknown flag: --no-such-flag" err || return 1
		test_must_fail 125 kiln $c -Z 2>err &&
		test_grep "unknown shorthand flag: .Z." err || return 1
	done <cmds
'

test_expect_success 'kiln help --help; kiln help with a bad topic' '
	kiln help --help >out &&
	test_grep "^Usage:  kiln help" out &&
	test_must_fail 125 kiln help nosuch 2>err &&
	test_grep "unknown command: \"nosuch\"" err
'

test_done
