#!/bin/bash
# make-rootfs.sh [busybox|gcc|golang|all] — make the base-image root
# filesystems kiln's tests, benchmarks and demo use, offline (only Debian's
# package mirror is needed), as deterministic tarballs cached in
# $KILN_CACHE (default /var/tmp/kiln-cache):
#
#   busybox-rootfs.tar  busybox-static + its applet links, /etc/passwd,
#                       /etc/group, /tmp                       (~2 MB)
#   gcc-rootfs.tar      Debian bookworm minbase + gcc + libc6-dev  (~320 MB)
#   golang-rootfs.tar   Debian bookworm minbase + golang-go 1.19   (~590 MB)
#
# Prints the path of each tarball.  Needs root for mmdebstrap and chroot.
set -euo pipefail
CACHE=${KILN_CACHE:-/var/tmp/kiln-cache}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-}
mkdir -p "$CACHE"
log() { printf '[rootfs] %s\n' "$*" >&2; }

# Deterministic tar of a directory: sorted, numeric owners, fixed mtimes.
dir2tar() {
	tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$1" -cf "$2.tmp" . && mv "$2.tmp" "$2"
}

busybox() {
	local out=$CACHE/busybox-rootfs.tar
	if [ ! -s "$out" ]; then
		[ -x /bin/busybox ] || { echo "busybox-static is not installed" >&2; exit 1; }
		log "busybox rootfs"
		local d
		d=$(mktemp -d /var/tmp/kiln-bb.XXXXXX)
		mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var/tmp,home/user,dev,proc,sys}
		chmod 1777 "$d/tmp" "$d/var/tmp"
		chmod 700 "$d/root"
		cp /bin/busybox "$d/bin/busybox"
		# applet links relative to /bin/busybox, made without chroot
		for a in $(/bin/busybox --list-full); do
			[ "$a" = bin/busybox ] && continue
			mkdir -p "$d/$(dirname "$a")"
			ln -sf /bin/busybox "$d/$a"
		done
		cat >"$d/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
		cat >"$d/etc/group" <<'G'
root:x:0:
daemon:x:1:
wheel:x:10:user
user:x:1000:
nogroup:x:65534:
G
		chown 1000:1000 "$d/home/user"
		dir2tar "$d" "$out"
		rm -rf "$d"
	fi
	echo "$out"
}

debian() { # name packages
	local out=$CACHE/$1-rootfs.tar
	if [ ! -s "$out" ]; then
		command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed" >&2; exit 1; }
		log "mmdebstrap $SUITE minbase + $2 (a few minutes)"
		mmdebstrap --quiet --variant=minbase --include="$2" \
			--aptopt='APT::Install-Recommends "false"' \
			--dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/doc/*' \
			--dpkgopt='path-include=/usr/share/doc/*/copyright' \
			--dpkgopt='path-exclude=/usr/share/info/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			"$SUITE" "$out.full.tar" ${MIRROR:+"$MIRROR"} >&2
		# layers carry no device nodes
		tar --delete --wildcards -f "$out.full.tar" './dev/?*' 2>/dev/null || true
		mv "$out.full.tar" "$out"
	fi
	echo "$out"
}

case ${1:-all} in
busybox) busybox ;;
gcc) debian gcc gcc,libc6-dev ;;
golang) debian golang golang-go ;;
all) busybox; debian gcc gcc,libc6-dev; debian golang golang-go ;;
*) echo "usage: $0 [busybox|gcc|golang|all]" >&2; exit 2 ;;
esac
