#!/bin/sh
# test.sh — the README's test command (and what .ci/run calls).
# Installs what is missing, builds with -Werror, builds the unit and
# conformance tests under ASan+UBSan, then runs every test once normally
# and the unit and conformance tests again under the sanitizers.  Ends with
# one line "N passed, N failed, N skipped"; non-zero exit on any failure.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh test
# The base images the build, run and registry tests use, made offline
# (Debian's mirror only) and cached under /var/tmp/kiln-cache.
if [ "$(id -u)" = 0 ]; then
	tests/images/make-rootfs.sh all >/dev/null
fi
jobs=$(nproc 2>/dev/null || echo 2)
# The golang base image t0513 and t0607 build go-hello on: made once from
# the Debian mirror (~20 s there, a few minutes from afar), cached in
# /var/tmp/kiln-cache.  Without it those tests skip and say why.
bash tests/images/make-rootfs.sh golang >/dev/null ||
	echo "warning: no golang rootfs; the go-hello build tests will skip" >&2
make -s -j"$jobs" DEVELOPER=1 test-bins
make -s -j"$jobs" DEVELOPER=1 SANITIZE=address,undefined O=out/san \
	out/san/libkiln.a $(ls tests/unit/t-*.c tests/conformance/c-*.c 2>/dev/null |
	sed -e 's|tests/unit/\(t-.*\)\.c|out/san/tests/\1|' \
	    -e 's|tests/conformance/\(c-.*\)\.c|out/san/tests/\1|')
exec env SAN_O=out/san sh tests/run-tests.sh all
