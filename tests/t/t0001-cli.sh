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

test_done
