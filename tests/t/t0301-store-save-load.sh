#!/bin/bash
# kiln save / kiln load, and what real clients (skopeo, umoci, podman)
# make of kiln's archives and kiln of theirs.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-store.sh"

test_have_prereq BUSYBOX || test_skip_all "no /bin/busybox (package busybox-static)"
make_busybox_tar "$TRASH/bb.tar" || test_skip_all "cannot build the busybox tarball"
BB=$TRASH/bb.tar

podman_setup

other_store() { KILN_ROOT=$TRASH/other "$KILN_BIN" "$@"; }

test_expect_success 'setup' '
	kiln import --change "CMD [\"sh\"]" "$BB" busybox:latest >"$TRASH/id" &&
	kiln tag busybox 127.0.0.1:5000/lib/bb:2
'
ID=$(cat "$TRASH/id" 2>/dev/null)

test_expect_success 'save writes a docker-archive' '
	kiln save -o bb.tar busybox &&
	tar tf bb.tar >list &&
	test_grep "^manifest.json$" list &&
	test_grep "^repositories$" list &&
	test_grep "^${ID#sha256:}.json$" list &&
	test_grep "/layer.tar$" list &&
	tar xOf bb.tar manifest.json >m &&
	test_grep "\"RepoTags\":\[\"busybox:latest\"\]" m
'

test_expect_success 'save refuses a terminal and reports unknown images' '
	test_must_fail 1 kiln save nosuch -o x.tar 2>err &&
	test_grep "no such image" err &&
	test ! -e x.tar &&
	test_must_fail 125 kiln save --format zip busybox 2>err
'

test_expect_success 'save | load into another store gives the same image ID' '
	kiln save busybox 127.0.0.1:5000/lib/bb:2 >both.tar &&
	other_store load <both.tar >out &&
	test_grep "^Loaded image: busybox:latest$" out &&
	test_grep "^Loaded image: 127.0.0.1:5000/lib/bb:2$" out &&
	other_store images -q --no-trunc busybox >id2 &&
	echo "$ID" >expect && test_cmp expect id2 &&
	other_store fsck
'

test_expect_success 'oci-archive round trip' '
	kiln save --format oci-archive -o bb-oci.tar busybox &&
	tar tf bb-oci.tar >list &&
	test_grep "^oci-layout$" list && test_grep "^index.json$" list &&
	rm -rf "$TRASH/other" &&
	other_store load -i bb-oci.tar >out &&
	test_grep "^Loaded image: busybox:latest$" out &&
	test "$(other_store images -q --no-trunc)" = "$ID" &&
	other_store fsck
'

test_expect_success 'save by ID gives an untagged archive; load prints the ID' '
	kiln save -o byid.tar "${ID#sha256:}" &&
	tar xOf byid.tar manifest.json | test_grep "\"RepoTags\":null" &&
	rm -rf "$TRASH/other" &&
	other_store load -i byid.tar >out &&
	test_grep "^Loaded image ID: $ID$" out
'

test_expect_success 'load accepts a gzip-compressed archive and gzip layer tars' '
	gzip -c bb.tar >bb.tar.gz &&
	rm -rf "$TRASH/other" &&
	other_store load -i bb.tar.gz >out &&
	test_grep "^Loaded image: busybox:latest$" out &&
	rm -rf x && mkdir x && tar -C x -xf bb.tar &&
	for l in x/*/layer.tar; do gzip "$l" && mv "$l.gz" "$l" || return 1; done &&
	(cd x && tar -cf ../gzlayers.tar *) &&
	rm -rf "$TRASH/other" &&
	other_store load -i gzlayers.tar >out &&
	test "$(other_store images -q --no-trunc)" = "$ID" &&
	other_store fsck
'

test_expect_success 'load refuses a layer whose diffID does not match, store unchanged' '
	rm -rf x && mkdir x && tar -C x -xf bb.tar &&
	l=$(ls x/*/layer.tar) &&
	printf "x" | dd of="$l" bs=1 seek=500000 conv=notrunc 2>/dev/null &&
	(cd x && tar -cf ../bad.tar *) &&
	store_listing >before &&
	test_must_fail 1 kiln load -i bad.tar 2>err &&
	test_grep "^error: load: layer .*diffID" err &&
	test $(wc -l <err) = 1 &&
	store_listing >after &&
	test_cmp before after &&
	tmp_is_empty
'

test_expect_success 'load of bad input: one clear line' '
	echo "not a tarball" >junk &&
	test_must_fail 1 kiln load -i junk 2>err &&
	test $(wc -l <err) = 1 &&
	test_must_fail 1 kiln load -i /nonexistent 2>err &&
	test_grep "^error: open ./nonexistent.: No such file" err &&
	mkdir e && echo hi >e/hello.txt && tar -C e -cf nomanifest.tar . &&
	test_must_fail 1 kiln load -i nomanifest.tar 2>err &&
	test_grep "not a docker-archive or oci-archive" err &&
	tmp_is_empty && kiln fsck
'

test_expect_success SKOPEO 'skopeo reads kiln save output' '
	skopeo inspect docker-archive:bb.tar >out &&
	test_grep "\"Os\": \"linux\"" out &&
	skopeo inspect oci-archive:bb-oci.tar:busybox:latest >out &&
	test_grep "\"Os\": \"linux\"" out
'

test_expect_success SKOPEO 'kiln load reads skopeo docker-archive and oci-archive' '
	skopeo copy -q "oci:$KILN_ROOT:busybox:latest" docker-archive:sk-d.tar:skopeo/d:1 &&
	skopeo copy -q "oci:$KILN_ROOT:busybox:latest" oci-archive:sk-o.tar:skopeo-o:2 &&
	rm -rf "$TRASH/other" &&
	other_store load -i sk-d.tar >out &&
	test_grep "^Loaded image: skopeo/d:1$" out &&
	other_store load -i sk-o.tar >out &&
	test_grep "^Loaded image: skopeo-o:2$" out &&
	other_store images >out &&
	test $(grep -c "$(echo ${ID#sha256:} | cut -c1-12)" out) = 2 &&
	other_store fsck
'

test_expect_success UMOCI 'umoci unpacks a kiln oci-archive' '
	rm -rf layout bundle && mkdir layout && tar -C layout -xf bb-oci.tar &&
	umoci unpack --image layout:busybox:latest bundle >/dev/null &&
	test -x bundle/rootfs/bin/busybox
'

test_expect_success PODMANROOT 'podman loads kiln save output' '
	podman_ load -i bb.tar >out 2>&1 &&
	test_grep "Loaded image.*busybox:latest" out &&
	podman_ image inspect --format "{{.Id}}" busybox:latest >pid &&
	test_grep "${ID#sha256:}" pid
'

test_expect_success PODMANROOT 'kiln loads podman save output (docker-archive and oci-archive)' '
	podman_ save -o pd.tar busybox:latest 2>/dev/null &&
	podman_ save --format oci-archive -o po.tar busybox:latest 2>/dev/null &&
	rm -rf "$TRASH/other" &&
	other_store load -i pd.tar >out &&
	test_grep "^Loaded image: " out &&
	other_store load -i po.tar >out &&
	test_grep "^Loaded image" out &&
	other_store fsck
'

test_expect_success JSONSCHEMA 'loaded images validate against the OCI schemas' '
	KILN_ROOT=$TRASH/other validate_store
'

test_done
