#!/bin/bash
# Layers are extracted while they stream in: kiln import and kiln load
# leave layers/<diffid>/ next to the blob, in the same pass, as an overlay
# lower dir; a layer dir that exists is kept; a failure leaves no layer dir
# and nothing in tmp/.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
BB=$TRASH/bb.tar
command -v strace >/dev/null && test_set_prereq STRACE

test_expect_success 'import extracts the layer into layers/<diffid>' '
	kiln import "$BB" bb:1 >/dev/null &&
	d=$(diffid_of bb:1) &&
	layer_matches "$d" "$BB" &&
	test "$(ls "$KILN_ROOT/layers")" = "${d#sha256:}" &&
	tmp_is_empty &&
	kiln fsck -q
'

test_expect_success 'gzip and zstd input are extracted too' '
	gzip -c "$BB" >bb.tar.gz &&
	KILN_ROOT=$TRASH/gz kiln import bb.tar.gz bb:gz >/dev/null &&
	KILN_ROOT=$TRASH/gz layer_matches "$(KILN_ROOT=$TRASH/gz diffid_of bb:gz)" "$BB" &&
	if command -v zstd >/dev/null; then
		zstd -q -c "$BB" >bb.tar.zst &&
		KILN_ROOT=$TRASH/zst kiln import bb.tar.zst bb:zst >/dev/null &&
		KILN_ROOT=$TRASH/zst layer_matches "$(KILN_ROOT=$TRASH/zst diffid_of bb:zst)" "$BB"
	fi &&
	test -z "$(ls -A "$TRASH/gz/tmp")"
'

test_expect_success ROOT 'owners as the tar says, setgid directories or not' '
	python3 - owners.tar <<-\PY &&
	import io, sys, tarfile
	t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
	def add(name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, link=""):
	    i = tarfile.TarInfo(name)
	    i.type, i.mode, i.uid, i.gid, i.linkname = kind, mode, uid, gid, link
	    t.addfile(i, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
	add("./", tarfile.DIRTYPE, 0o2775, 0, 50)
	add("top", gid=0)
	add("late/a", gid=0)
	add("late", tarfile.DIRTYPE, 0o2775, 0, 50)
	add("late/b", gid=0)
	add("sg", tarfile.DIRTYPE, 0o2775, 0, 50)
	add("sg/same", gid=50)
	add("sg/root", gid=0)
	add("sg/sub", tarfile.DIRTYPE, 0o755, 0, 0)
	add("sg/link", tarfile.SYMTYPE, 0o777, 0, 0, "same")
	add("plain/other", uid=1234, gid=5678)
	t.close()
	PY
	kiln import owners.tar owners:1 >/dev/null &&
	l=$KILN_ROOT/layers/$(diffid_of owners:1 | cut -c8-) &&
	(cd "$l" && stat -c "%n %u:%g %a" . top late late/a late/b sg sg/same \
		sg/root sg/sub plain/other && stat -c "%n %u:%g" sg/link) >got &&
	cat >want <<-\EOF &&
	. 0:50 2775
	top 0:0 644
	late 0:50 2775
	late/a 0:0 644
	late/b 0:0 644
	sg 0:50 2775
	sg/same 0:50 644
	sg/root 0:0 644
	sg/sub 0:0 755
	plain/other 1234:5678 644
	sg/link 0:0
	EOF
	test_cmp want got
'

test_expect_success 'a layer dir that exists is kept' '
	d=$(diffid_of bb:1) &&
	ino=$(stat -c %i "$KILN_ROOT/layers/${d#sha256:}") &&
	kiln import -m again "$BB" bb:again >/dev/null &&
	test "$(stat -c %i "$KILN_ROOT/layers/${d#sha256:}")" = "$ino" &&
	tmp_is_empty && kiln fsck -q
'

test_expect_success 'whiteouts become overlay whiteouts' '
	mkdir -p wo/etc wo/usr/lib && echo x >wo/etc/keep &&
	: >wo/etc/.wh.passwd && : >wo/usr/.wh..wh..opq && : >wo/usr/lib/x &&
	tar --numeric-owner -C wo -cf wo.tar . &&
	kiln import wo.tar wo:1 >/dev/null &&
	l=$KILN_ROOT/layers/$(diffid_of wo:1 | cut -c8-) &&
	test "$(stat -c "%F %t:%T" "$l/etc/passwd")" = "character special file 0:0" &&
	test ! -e "$l/etc/.wh.passwd" &&
	test ! -e "$l/usr/.wh..wh..opq" &&
	python3 -c "import os,sys; assert os.getxattr(sys.argv[1], \"trusted.overlay.opaque\") == b\"y\"" "$l/usr" &&
	test -f "$l/usr/lib/x"
'

test_expect_success 'load of a docker-archive and of an oci-archive extracts' '
	kiln save -o bb-docker.tar bb:1 &&
	kiln save --format oci-archive -o bb-oci.tar bb:1 &&
	for f in bb-docker.tar bb-oci.tar; do
		KILN_ROOT=$TRASH/s-$f "$KILN_BIN" load -i $f >/dev/null &&
		KILN_ROOT=$TRASH/s-$f layer_matches "$(diffid_of bb:1)" "$BB" &&
		KILN_ROOT=$TRASH/s-$f "$KILN_BIN" fsck -q &&
		test -z "$(ls -A "$TRASH/s-$f/tmp")" || return 1
	done
'

# The same content compressed differently: a new blob, an existing dir.
test_expect_success STRACE 'load does not extract a layer whose dir exists' '
	KILN_ROOT=$TRASH/s-bb-oci.tar strace -f -o trace -e trace=mkdir,mkdirat \
		"$KILN_BIN" load -i bb-oci.tar >/dev/null &&
	! grep "\.layer\"" trace &&
	KILN_ROOT=$TRASH/again kiln import bb.tar.gz gz:1 >/dev/null &&
	KILN_ROOT=$TRASH/again strace -f -o trace -e trace=mkdir,mkdirat \
		"$KILN_BIN" load -i bb-oci.tar >/dev/null &&
	! grep "\.layer\"" trace &&
	KILN_ROOT=$TRASH/again layer_matches "$(diffid_of bb:1)" "$BB" &&
	KILN_ROOT=$TRASH/again kiln fsck -q
'

test_expect_success 'a layer that cannot be extracted fails the import, store unchanged' '
	python3 - evil.tar <<-\PY &&
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
	    i = tarfile.TarInfo("etc/ok"); i.size = 3
	    t.addfile(i, io.BytesIO(b"ok\n"))
	    i = tarfile.TarInfo("../escape"); i.size = 3
	    t.addfile(i, io.BytesIO(b"no\n"))
	PY
	store_listing >before &&
	test_must_fail 1 kiln import evil.tar evil:1 2>err &&
	test $(wc -l <err) = 1 &&
	test_grep "^error: " err &&
	store_listing >after &&
	test_cmp before after &&
	tmp_is_empty && kiln fsck -q
'

test_expect_success 'a truncated layer fails the import, store unchanged' '
	head -c 300000 bb.tar.gz >trunc.tar.gz &&
	store_listing >before &&
	test_must_fail 1 kiln import trunc.tar.gz trunc:1 2>err &&
	test $(wc -l <err) = 1 &&
	store_listing >after &&
	test_cmp before after &&
	tmp_is_empty && kiln fsck -q
'

test_expect_success 'a load that fails after extracting removes the layer dir' '
	rm -rf x && mkdir x && tar -C x -xf bb-docker.tar &&
	python3 - x/manifest.json <<-\PY &&
	import json, sys
	m = json.load(open(sys.argv[1]))
	m[0]["Layers"].append("missing/layer.tar")
	json.dump(m, open(sys.argv[1], "w"))
	PY
	(cd x && tar -cf ../bad.tar *) &&
	rm -rf "$TRASH/fresh" &&
	KILN_ROOT=$TRASH/fresh "$KILN_BIN" images >/dev/null &&
	test_must_fail 1 env KILN_ROOT=$TRASH/fresh "$KILN_BIN" load -i bad.tar 2>err &&
	test $(wc -l <err) = 1 &&
	test -z "$(ls -A "$TRASH/fresh/layers")" &&
	test -z "$(ls -A "$TRASH/fresh/tmp")"
'

test_expect_success 'concurrent imports of one tarball: one layer dir, no leftovers' '
	for i in 1 2 3 4; do
		kiln import -m "c$i" "$BB" conc:$i >/dev/null &
	done &&
	wait &&
	test $(kiln images conc | grep -c "^conc ") = 4 &&
	layer_matches "$(diffid_of conc:1)" "$BB" &&
	tmp_is_empty && kiln fsck -q
'

test_done
