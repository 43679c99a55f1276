# lib-build.sh — helpers for the build tests; source after test-lib.sh.

if kiln build --help >/dev/null 2>&1; then
	test_set_prereq BUILD
fi

# Builds never reach the internet: a base missing from the store would be
# pulled, so docker.io leads nowhere and the pull fails at once (t0607
# pulls through a local registry with its own registries.conf).
printf '[[registry]]\nprefix = "docker.io"\nlocation = "127.0.0.1:1"\ninsecure = true\n' \
	>"$TRASH/no-registry.conf"
export CONTAINERS_REGISTRIES_CONF=$TRASH/no-registry.conf

# import_busybox: the busybox base image (tests/images/make-rootfs.sh)
# with the config tests/buildkit/record.sh gives it.
import_busybox() {
	local rootfs
	rootfs=$("$SRC_DIR/tests/images/make-rootfs.sh" busybox) &&
	kiln import --change 'CMD ["sh"]' \
		--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"$rootfs" busybox:latest >/dev/null
}

# import_toolchain golang|gcc: the example base images, when their rootfs
# is cached (making them takes a minute and the Debian mirror).
import_toolchain() {
	local t=/var/tmp/kiln-cache/$1-rootfs.tar
	[ -s "$t" ] || return 1
	case $1 in
	golang)
		kiln import --change 'CMD ["bash"]' \
			--change 'ENV PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV GOPATH=/go' --change 'WORKDIR /go' \
			"$t" golang:1.19 >/dev/null ;;
	gcc)
		kiln import --change 'CMD ["bash"]' \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			"$t" gcc:12 >/dev/null ;;
	esac
}

# store_tree: every path of the store but tmp/ and lock files, with file
# hashes (to prove a failed build left the store as it was).
store_tree() {
	(cd "$KILN_ROOT" && find . -path ./tmp -prune -o ! -name lock \
		! -name index.lock -print | LC_ALL=C sort |
		while read -r f; do
			if [ -f "$f" ]; then
				echo "$(sha256sum <"$f" | cut -c1-16) $f"
			else
				echo "- $f"
			fi
		done)
}

# image_fs IMAGE DIR: the image's file system, flattened, into DIR
# (through `kiln save`).
image_fs() {
	local t
	t=$(mktemp -d "$TRASH/save.XXXXXX") &&
	kiln save -o "$t/img.tar" "$1" &&
	mkdir -p "$2" && (cd "$t" && tar -xf img.tar) &&
	python3 - "$t" "$2" <<'PY'
import json, os, sys, tarfile
t, out = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(t, "manifest.json")))[0]
for l in m["Layers"]:
    tf = tarfile.open(os.path.join(t, l))
    for mem in tf.getmembers():
        base = os.path.basename(mem.name)
        if base.startswith(".wh."):
            p = os.path.join(out, os.path.dirname(mem.name), base[4:])
            os.system("rm -rf '%s'" % p)
    tf.extractall(out, members=[x for x in tf.getmembers()
                                if not os.path.basename(x.name).startswith(".wh.")])
PY
}

# image_config IMAGE: the config JSON of an image.
image_config() {
	kiln inspect "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(json.dumps(d.get("Config") or d.get("config")))'
}

# count_cached LOG: number of CACHED steps in a --progress=plain log.
count_cached() {
	grep -c '^#[0-9]* CACHED$' "$1"
}
