#!/bin/bash
# kiln import, images, tag, rmi, inspect, history, fsck, prune on a store
# seeded with a busybox root file system.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
BB=$TRASH/bb.tar

test_expect_success 'import a plain tarball with a name' '
	kiln import "$BB" busybox >id &&
	test_grep "^sha256:[0-9a-f]\{64\}$" id &&
	test -f "$KILN_ROOT/oci-layout" &&
	kiln images >out &&
	head -n1 out | test_grep -E "^REPOSITORY   TAG       IMAGE ID       CREATED +SIZE$" &&
	test_grep "^busybox      latest    $(cut -c8-19 id)   " out
'

test_expect_success 'images: columns, sizes and ages as docker prints them' '
	kiln images busybox >out &&
	test_grep -E "^busybox +latest +[0-9a-f]{12} +(Less than a second|1 second|[0-9]+ seconds) ago +[0-9.]+[kM]B$" out
'

test_expect_success 'import from stdin, gzip, with --change and -m' '
	gzip -c "$BB" >bb.tar.gz &&
	kiln import -m "my message" --change "CMD [\"sh\"]" \
		--change "ENV A=1 B=\"two words\"" --change "WORKDIR /tmp" \
		--change "EXPOSE 80 53/udp" --change "LABEL k=v" \
		--change "USER 1000" --change "ENTRYPOINT echo hi" \
		- 127.0.0.1:5000/team/bb:1.0 <bb.tar.gz >id &&
	kiln inspect 127.0.0.1:5000/team/bb:1.0 >out &&
	python3 - out <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))[0]
	c = d["Config"]
	assert d["Comment"] == "my message", d
	assert d["RepoTags"] == ["127.0.0.1:5000/team/bb:1.0"], d
	assert c["Cmd"] == ["sh"], c
	assert c["Entrypoint"] == ["/bin/sh", "-c", "echo hi"], c
	assert c["Env"] == ["A=1", "B=two words"], c
	assert c["WorkingDir"] == "/tmp", c
	assert c["User"] == "1000", c
	assert c["Labels"] == {"k": "v"}, c
	assert set(c["ExposedPorts"]) == {"80/tcp", "53/udp"}, c
	assert d["RootFS"]["Type"] == "layers" and len(d["RootFS"]["Layers"]) == 1
	assert d["Os"] == "linux" and d["Size"] > 1000000
	PY
'

test_expect_success 'the same content gives the same diffID whatever the compression' '
	kiln inspect busybox 127.0.0.1:5000/team/bb:1.0 >out &&
	python3 -c "import json,sys; d=json.load(open(\"out\")); assert d[0][\"RootFS\"]==d[1][\"RootFS\"], d"
'

test_expect_success ZSTD,XZ,BZIP2 'import zstd, xz and bzip2 tarballs' '
	zstd -q -c "$BB" >bb.tar.zst &&
	xz -c "$BB" >bb.tar.xz &&
	bzip2 -c "$BB" >bb.tar.bz2 &&
	kiln import bb.tar.zst z:zst &&
	kiln import bb.tar.xz z:xz &&
	kiln import bb.tar.bz2 z:bz2 &&
	kiln images z >out &&
	test_line_count() { test $(wc -l <"$2") -eq "$1"; } &&
	test_line_count 4 out
'

test_expect_success 'import without a name gives a dangling image' '
	kiln import "$BB" >id &&
	kiln images >out &&
	test_grep "^<none>  *<none>    $(cut -c8-19 id)   " out
'

test_expect_success 'images -q, --no-trunc, --digests, --format json' '
	kiln images -q >q &&
	test_grep -E "^[0-9a-f]{12}$" q &&
	kiln images --no-trunc -q >q &&
	test_grep -E "^sha256:[0-9a-f]{64}$" q &&
	kiln images --digests busybox >d &&
	head -n1 d | test_grep "^REPOSITORY   TAG       DIGEST  " &&
	test_grep "sha256:[0-9a-f]\{64\}" d &&
	kiln images --format json busybox >j &&
	python3 -c "import json; [json.loads(l) for l in open(\"j\")]"
'

test_expect_success 'tag, lookup by ID prefix and by digest' '
	kiln tag busybox mybox:v1 &&
	kiln images mybox >out &&
	test_grep "^mybox  *v1 " out &&
	id=$(kiln images -q busybox) &&
	kiln tag "$id" mybox:v2 &&
	kiln tag "$(echo $id | cut -c1-6)" mybox:v3 &&
	kiln tag "sha256:$id" mybox:v4 &&
	digest=$(kiln images --digests busybox | awk "NR==2{print \$3}") &&
	kiln inspect "busybox@$digest" >out &&
	test_grep "\"Id\": \"sha256:$id" out
'

test_expect_success 'history shows the import step' '
	kiln history busybox >out &&
	head -n1 out | test_grep -E "^IMAGE          CREATED +CREATED BY   SIZE      COMMENT$" &&
	sed -n 2p out | test_grep -E "^[0-9a-f]{12}   [A-Za-z0-9 ]+ ago +   [0-9.]+[kM]B +Imported from -$" &&
	test_grep "Imported from -$" out &&
	kiln history -q busybox >q &&
	test_grep -E "^[0-9a-f]{12}$" q
'

test_expect_success 'rmi untags, deletes when the last tag goes' '
	kiln rmi mybox:v1 >out &&
	test_grep "^Untagged: mybox:v1$" out &&
	! test_grep Deleted out &&
	kiln import "$BB" gone:1 >id &&
	kiln tag gone:1 gone:2 &&
	test_must_fail 1 kiln rmi "$(cut -c8-19 id)" 2>err &&
	test_grep "must be forced" err &&
	kiln rmi -f "$(cut -c8-19 id)" >out &&
	test_grep "^Untagged: gone:1$" out &&
	test_grep "^Untagged: gone:2$" out &&
	kiln fsck
'

test_expect_success 'rmi of the last reference deletes the blobs' '
	kiln import "$BB" solo:1 >id &&
	kiln tag solo:1 solo:2 &&
	kiln rmi solo:1 >out &&
	! test_grep Deleted out &&
	kiln rmi solo:2 >out &&
	test_grep "^Deleted: $(cat id)$" out &&
	test ! -e "$KILN_ROOT/blobs/sha256/$(cut -c8- id)" &&
	kiln fsck
'

test_expect_success 'a reused tag leaves the old image dangling; prune removes it' '
	kiln import "$BB" again:1 >id1 &&
	kiln import -m other "$BB" again:1 >id2 &&
	kiln images >out &&
	test_grep "^<none> .* $(cut -c8-19 id1) " out &&
	kiln prune >out &&
	test_grep "^untagged: sha256:" out &&
	test_grep "^Total reclaimed space: " out &&
	test ! -e "$KILN_ROOT/blobs/sha256/$(cut -c8- id1)" &&
	kiln images >out &&
	! test_grep "^<none>" out &&
	kiln fsck
'

test_expect_success JSONSCHEMA 'everything kiln wrote validates against the OCI schemas' '
	validate_store
'

test_expect_success SKOPEO 'skopeo reads the store as an OCI layout' '
	skopeo inspect "oci:$KILN_ROOT:busybox:latest" >out &&
	test_grep "\"Architecture\": \"amd64\"\|\"Os\": \"linux\"" out &&
	skopeo inspect "oci:$KILN_ROOT:127.0.0.1:5000/team/bb:1.0" >out &&
	skopeo copy -q "oci:$KILN_ROOT:busybox:latest" "dir:$TRASH/w/dircopy" &&
	test -f dircopy/manifest.json
'

test_expect_success UMOCI 'umoci unpacks straight from the store' '
	umoci unpack --image "$KILN_ROOT:busybox:latest" bundle >/dev/null &&
	test -x bundle/rootfs/bin/busybox
'

test_expect_success 'bad input: one clear line, non-zero exit' '
	test_must_fail 1 kiln import /nonexistent x 2>err &&
	test_grep "^error: open .*/nonexistent.*No such file" err &&
	test $(wc -l <err) = 1 &&
	echo "hello, not a tar" >notar &&
	test_must_fail 1 kiln import notar x 2>err &&
	test_grep "^error: import .notar.: not a tar archive$" err &&
	head -c 3000 "$BB" >trunc.tar &&
	test_must_fail 1 kiln import trunc.tar x 2>err &&
	test_grep "truncated tar archive" err &&
	test_must_fail 1 kiln import "$BB" "Bad:Ref" 2>err &&
	test_grep "invalid reference format" err &&
	test_must_fail 1 kiln tag busybox "a b" 2>err &&
	test_grep "invalid reference format" err &&
	test_must_fail 1 kiln inspect nosuchimage 2>err &&
	test_grep "^error: no such image: .nosuchimage.$" err &&
	test_must_fail 1 kiln rmi nosuchimage 2>err &&
	test_grep "no such image" err &&
	test_must_fail 1 kiln history nosuchimage 2>err &&
	test_must_fail 125 kiln import 2>err &&
	test_must_fail 125 kiln import --change "FROB x" "$BB" 2>err ||
	test_must_fail 1 kiln import --change "FROB x" "$BB" 2>err &&
	test_grep "FROB is not a valid change command" err &&
	tmp_is_empty &&
	kiln fsck
'

test_expect_success 'an ambiguous ID prefix is refused' '
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do
		kiln import -m "m$i" "$BB" amb:$i >/dev/null || return 1
	done &&
	p=$(kiln images -q amb | cut -c1 | sort | uniq -d | head -n1) &&
	test -n "$p" &&
	kiln tag "${p}" x:y 2>err; test_grep "ambiguous\|no such image" err
'

test_expect_success 'fsck finds a corrupt blob and a missing layer; --repair fixes' '
	kiln fsck >out &&
	test_grep "consistent" out &&
	kiln import "$BB" victim:1 >id &&
	layer=$(python3 -c "import json; m=json.load(open(\"$KILN_ROOT/index.json\")); print([d[\"digest\"] for d in m[\"manifests\"] if d.get(\"annotations\",{}).get(\"io.containerd.image.name\")==\"docker.io/library/victim:1\"][0])") &&
	cfg=$(cut -c8- id) &&
	echo garbage >>"$KILN_ROOT/blobs/sha256/$cfg" &&
	test_must_fail 1 kiln fsck >out &&
	test_grep "digest mismatch" out &&
	test_grep "image .docker.io/library/victim:1.: config" out &&
	test_must_fail 1 kiln inspect victim:1 2>err &&
	test $(wc -l <err) = 1 &&
	kiln fsck --repair >out &&
	test_grep "repaired: removed corrupt blob" out &&
	test_grep "repaired: removed tag .docker.io/library/victim:1." out &&
	kiln fsck &&
	kiln images busybox >out && test_grep busybox out
'

test_expect_success 'fsck reports an unreadable index.json' '
	cp "$KILN_ROOT/index.json" saved-index &&
	echo "{not json" >"$KILN_ROOT/index.json" &&
	test_must_fail 1 kiln fsck >out &&
	test_grep "index.json" out &&
	test_must_fail 1 kiln images 2>err &&
	test_grep "^error: .*index.json" err &&
	cp saved-index "$KILN_ROOT/index.json" &&
	kiln fsck
'

test_expect_success 'prune removes tmp leftovers and unreferenced blobs' '
	echo junk >"$KILN_ROOT/tmp/123.0.deadbeef.blob" &&
	echo orphan >"$KILN_ROOT/blobs/sha256/$(echo orphan | sha256sum | cut -c1-64)" &&
	kiln fsck &&
	kiln prune >out &&
	test_grep "^deleted: sha256:$(echo orphan | sha256sum | cut -c1-64)$" out &&
	tmp_is_empty &&
	kiln images busybox >out && test_grep busybox out &&
	kiln fsck
'

test_expect_success 'concurrent imports into one store keep every tag' '
	for i in 1 2 3 4 5 6; do
		kiln import -m "c$i" "$BB" conc:$i >/dev/null &
	done &&
	wait &&
	kiln images conc >out &&
	test $(grep -c "^conc " out) = 6 &&
	kiln fsck
'

test_done
