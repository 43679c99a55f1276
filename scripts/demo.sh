#!/bin/sh
# demo.sh — the README's main job, on a fresh Debian 12 machine as root with
# only Debian's package mirror reachable:
#   1. install the Debian packages that are missing and build kiln;
#   2. make the base images offline (busybox from busybox-static, golang and
#      gcc toolchains with mmdebstrap; cached under /var/tmp/kiln-cache) and
#      import them into the store;
#   3. build the three Go hello-world variants of Docker's multi-stage
#      tutorial and the C one, run them, and list the images.
# The store is $KILN_ROOT (default /var/lib/kiln).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh demo
make -s -j"$(nproc 2>/dev/null || echo 2)" kiln
KILN=$PWD/kiln
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "base images (made offline, cached in ${KILN_CACHE:-/var/tmp/kiln-cache})"
PATHENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
base() { # name rootfs-kind change...
	name=$1 kind=$2
	shift 2
	if "$KILN" inspect "$name" >/dev/null 2>&1; then
		echo "$name: already in the store"
		return
	fi
	tar=$(tests/images/make-rootfs.sh "$kind")
	for c in "$@"; do set -- "$@" --change "$c"; shift; done
	"$KILN" import "$@" "$tar" "$name"
}
base busybox:latest busybox "ENV $PATHENV" 'CMD ["sh"]'
base golang:1.19 golang \
	"ENV PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	"ENV GOPATH=/go" "WORKDIR /go" 'CMD ["bash"]'
base gcc:12 gcc "ENV $PATHENV" 'CMD ["bash"]'

step "1. single stage: kiln build -t helloworld:single -f Dockerfile.single ."
"$KILN" build -t helloworld:single -f examples/go-hello/Dockerfile.single examples/go-hello
"$KILN" run --rm helloworld:single

step "2. multi-stage on scratch: kiln build -t helloworld:multi -f Dockerfile.multi ."
"$KILN" build -t helloworld:multi -f examples/go-hello/Dockerfile.multi examples/go-hello
"$KILN" run --rm helloworld:multi

step "3. the company variant on busybox, with the terms of use"
"$KILN" build -t helloworld:multi-busybox -f examples/go-hello/Dockerfile.multi-busybox examples/go-hello
"$KILN" run --rm helloworld:multi-busybox
"$KILN" run --rm helloworld:multi-busybox cat /compliance/legal_terms.txt

step "the same story in C: gcc -static, FROM scratch"
"$KILN" build -t hello-c:latest examples/c-hello
"$KILN" run --rm hello-c:latest

step "a cached rebuild"
"$KILN" build -t helloworld:multi -f examples/go-hello/Dockerfile.multi examples/go-hello

step "kiln images"
"$KILN" images
