# lib-store.sh — helpers for the store tests; source after test-lib.sh.

OCI_SCHEMA=$CORPUS/oci-schema
FAULTINJECT=$SRC_DIR/${O:-out}/tests/faultinject.so
[ -f "$FAULTINJECT" ] && test_set_prereq FAULTINJECT
[ -d "$OCI_SCHEMA" ] && python3 -c 'import jsonschema' 2>/dev/null &&
	test_set_prereq JSONSCHEMA
command -v zstd >/dev/null && test_set_prereq ZSTD
command -v xz >/dev/null && test_set_prereq XZ
command -v bzip2 >/dev/null && test_set_prereq BZIP2

# make_busybox_tar OUT: a tiny root file system around /bin/busybox.
make_busybox_tar() {
	local d
	d=$(mktemp -d "$TRASH/rootfs.XXXXXX") &&
	mkdir -p "$d/bin" "$d/etc" "$d/tmp" &&
	cp /bin/busybox "$d/bin/busybox" &&
	for a in sh ls cat echo true; do ln -s busybox "$d/bin/$a" || return 1; done &&
	echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd" &&
	echo 'root:x:0:' >"$d/etc/group" &&
	tar --numeric-owner -C "$d" -cf "$1" . &&
	rm -rf "$d"
}

# store_listing: every file of the store but tmp/ and lock files, with a
# hash of its content, sorted (to compare a store before and after).
store_listing() {
	(cd "$KILN_ROOT" && find . -path ./tmp -prune -o -type f \
		! -name lock ! -name index.lock -print | LC_ALL=C sort |
		while read -r f; do echo "$(sha256sum <"$f" | cut -c1-64) $f"; done)
}

# tmp_is_empty: the store's staging area holds nothing.
tmp_is_empty() {
	[ -z "$(ls -A "$KILN_ROOT/tmp")" ]
}

# validate_store: every manifest, index and config in the store against the
# OCI schemas.
validate_store() {
	local py=$SRC_DIR/tests/helpers/oci-validate.py f kind
	python3 "$py" "$OCI_SCHEMA" index "$KILN_ROOT/index.json" || return 1
	python3 "$py" "$OCI_SCHEMA" layout "$KILN_ROOT/oci-layout" || return 1
	for f in "$KILN_ROOT"/blobs/sha256/*; do
		kind=$(python3 - "$f" <<-'PY'
		import json, sys
		try:
		    d = json.load(open(sys.argv[1], "rb"))
		except Exception:
		    print("blob"); sys.exit()
		if not isinstance(d, dict): print("blob")
		elif "manifests" in d: print("index")
		elif "layers" in d: print("manifest")
		elif "rootfs" in d: print("config")
		else: print("blob")
		PY
		)
		[ "$kind" = blob ] && continue
		python3 "$py" "$OCI_SCHEMA" "$kind" "$f" || return 1
	done
}

# tree_listing DIR: every entry under DIR with its type, mode, owner, size
# and link target, sorted (to compare two extracted trees).
tree_listing() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G %s %l\n' |
		sed 's/^\(\S* d \S* \S*\) [0-9]*/\1 -/' | LC_ALL=C sort)
}

# layer_matches DIFFID TARBALL: layers/<hex of DIFFID> in the store holds
# exactly what TARBALL (any compression GNU tar reads) unpacks to.
layer_matches() {
	local dir=$KILN_ROOT/layers/${1#sha256:} ref
	[ -d "$dir" ] || { echo "no layer dir for $1"; return 1; }
	ref=$(mktemp -d "$TRASH/ref.XXXXXX") &&
	tar --numeric-owner -C "$ref" -xf "$2" &&
	diff -r --no-dereference "$ref" "$dir" &&
	tree_listing "$ref" >"$ref.want" &&
	tree_listing "$dir" >"$ref.got" &&
	diff -u "$ref.want" "$ref.got" >&2 &&
	rm -rf "$ref" "$ref.want" "$ref.got"
}

# diffid_of IMAGE: the (single or last) layer's diffID.
diffid_of() {
	kiln inspect "$1" | python3 -c 'import json,sys
print(json.load(sys.stdin)[0]["RootFS"]["Layers"][-1])'
}
