#!/bin/sh
# test.sh — the README's test command (and what .ci/run calls).
# Installs what is missing, builds with -Werror, builds the unit and
# conformance tests under ASan+UBSan, then runs every test once normally
# and the unit and conformance tests again under the sanitizers.  Ends with
# one line "N passed, N failed, N skipped"; non-zero exit on any failure.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh test
# The base images the build, run and registry tests use (busybox from
# busybox-static; golang and gcc from the Debian mirror with mmdebstrap,
# about a minute), made once and cached in /var/tmp/kiln-cache.  Without
# them the tests that need them skip and say why.
if [ "$(id -u)" = 0 ]; then
	tests/images/make-rootfs.sh all >/dev/null ||
		echo "warning: base rootfs tarballs missing; some tests will skip" >&2
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" DEVELOPER=1 test-bins
make -s -j"$jobs" DEVELOPER=1 SANITIZE=address,undefined O=out/san \
	out/san/libkiln.a $(ls tests/unit/t-*.c tests/conformance/c-*.c 2>/dev/null |
	sed -e 's|tests/unit/\(t-.*\)\.c|out/san/tests/\1|' \
	    -e 's|tests/conformance/\(c-.*\)\.c|out/san/tests/\1|')
exec env SAN_O=out/san sh tests/run-tests.sh all
