#!/bin/sh
# install-deps.sh [build|test|demo|all] — install the Debian packages kiln
# needs for building, for the test suite, or for the demo.  Only missing
# packages are installed.  As root it runs apt-get; otherwise it prints the
# exact command to run.
set -eu
what=${1:-all}

build="make gcc clang pkg-config libjansson-dev libarchive-dev
libcurl4-openssl-dev libssl-dev libisal-dev libzstd-dev zlib1g-dev
libseccomp-dev libcap-dev libclang-rt-14-dev"
test="python3 busybox-static skopeo umoci runc docker-registry util-linux
iproute2 tar gzip zstd xz-utils bzip2 script tini uidmap hyperfine
podman python3-jsonschema apache2-utils openssl curl time buildah strace
mmdebstrap"
demo="busybox-static mmdebstrap golang-go gcc"

case $what in
build) want=$build ;;
test) want="$build $test" ;;
demo) want="$build $demo" ;;
all) want="$build $test $demo" ;;
*) echo "usage: $0 [build|test|demo|all]" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	# 'script' lives in bsdutils on bookworm
	[ "$p" = script ] && p=bsdutils
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "kiln needs these Debian packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	apt-get install -y --no-install-recommends $missing
