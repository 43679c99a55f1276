#!/bin/bash
# registries.conf in use: an unmodified docker.io name served by the local
# registry through [[registry]] prefix/location and mirrors, mirror
# fallback with every endpoint's reason, pull-from-mirror, blocked
# registries, unqualified-search-registries, and configuration errors.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox-static"

start_registry reg || exit 1
R=$REGISTRY
make_image "$TRASH/img" latest &&
	seed_registry "$TRASH/img" latest "$R/library/busybox:latest" || exit 1
make_image "$TRASH/other" latest --extra-layer-kb 16 &&
	seed_registry "$TRASH/other" latest "$R/mirrored/library/busybox:latest" ||
	exit 1
digest_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$1/index.json"; }
IMG=$(digest_of "$TRASH/img")
OTHER=$(digest_of "$TRASH/other")
export HOME=$TRASH/home XDG_CONFIG_HOME=$TRASH/home/.config
unset REGISTRY_AUTH_FILE

test_expect_success 'busybox resolves through prefix="docker.io" location=' '
	cat >c <<-EOF &&
	unqualified-search-registries = ["docker.io"]
	[[registry]]
	prefix = "docker.io"
	location = "$R"
	insecure = true
	EOF
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve busybox >out &&
	test "$(head -n1 out)" = "$IMG" &&
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve docker.io/library/busybox:latest >out &&
	test "$(head -n1 out)" = "$IMG" &&
	CONTAINERS_REGISTRIES_CONF=c registry_get pull index.docker.io/library/busybox p &&
	diff -r "$TRASH/img/blobs" p/blobs
'

test_expect_success 'mirrors are tried in order; failures fall back to the location' '
	cat >c <<-EOF &&
	[[registry]]
	prefix = "docker.io"
	location = "$R"
	insecure = true
	[[registry.mirror]]
	location = "127.0.0.1:1"
	insecure = true
	[[registry.mirror]]
	location = "$R/empty-mirror"
	insecure = true
	EOF
	KILN_DEBUG=1 CONTAINERS_REGISTRIES_CONF=c registry_get pull busybox p2 >out 2>err &&
	test "$(cat out)" = "$IMG" &&
	diff -r "$TRASH/img/blobs" p2/blobs &&
	test_grep "127.0.0.1:1/library/busybox (mirror):" err &&
	test_grep "$R/empty-mirror/library/busybox (mirror): .*404" err
'

test_expect_success 'a mirror that has the image serves it' '
	cat >c <<-EOF &&
	[[registry]]
	prefix = "docker.io"
	location = "$R"
	insecure = true
	[[registry.mirror]]
	location = "$R/mirrored"
	insecure = true
	EOF
	CONTAINERS_REGISTRIES_CONF=c registry_get pull busybox p3 >out &&
	test "$(cat out)" = "$OTHER" &&
	diff -r "$TRASH/other/blobs" p3/blobs
'

test_expect_success 'pull-from-mirror = digest-only: tags skip the mirror' '
	cat >c <<-EOF &&
	[[registry]]
	prefix = "docker.io"
	location = "$R"
	insecure = true
	[[registry.mirror]]
	location = "$R/mirrored"
	insecure = true
	pull-from-mirror = "digest-only"
	EOF
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve busybox >out &&
	test "$(head -n1 out)" = "$IMG" &&
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve busybox@$OTHER >out &&
	test "$(head -n1 out)" = "$OTHER"
'

test_expect_success 'pull-from-mirror = tag-only: digests skip the mirror' '
	sed -i s/digest-only/tag-only/ c &&
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve busybox >out &&
	test "$(head -n1 out)" = "$OTHER" &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=c \
		"$KILN_HELPERS/registry-get" resolve busybox@$OTHER 2>err &&
	test_grep "404" err
'

test_expect_success 'when every endpoint fails, the error lists each and why' '
	cat >c <<-EOF &&
	[[registry]]
	prefix = "docker.io"
	location = "$R/nowhere"
	insecure = true
	[[registry.mirror]]
	location = "127.0.0.1:1"
	insecure = true
	EOF
	test_must_fail env CONTAINERS_REGISTRIES_CONF=c \
		"$KILN_HELPERS/registry-get" resolve busybox 2>err &&
	cat err &&
	test_grep "every endpoint failed" err &&
	test_grep "127.0.0.1:1/library/busybox (mirror): .*" err &&
	test_grep "$R/nowhere/library/busybox: .*404" err
'

test_expect_success 'a blocked registry is refused, with where it was blocked' '
	cat >c <<-EOF &&
	[[registry]]
	prefix = "$R/secret"
	location = "$R/secret"
	blocked = true
	[[registry]]
	location = "$R"
	insecure = true
	[[registry]]
	prefix = "*.blocked.test"
	blocked = true
	EOF
	test_must_fail env CONTAINERS_REGISTRIES_CONF=c \
		"$KILN_HELPERS/registry-get" resolve $R/secret/app 2>err &&
	test_grep "registry .$R/secret. is blocked (c:1)" err &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=c \
		"$KILN_HELPERS/registry-get" push "$TRASH/img" $R/secret/app 2>err &&
	test_grep "blocked" err &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=c \
		"$KILN_HELPERS/registry-get" resolve a.blocked.test/x 2>err &&
	test_grep "blocked" err &&
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve $R/library/busybox >out
'

test_expect_success 'unqualified-search-registries are tried in order' '
	seed_registry "$TRASH/img" latest $R/searched:latest &&
	cat >c <<-EOF &&
	unqualified-search-registries = ["127.0.0.1:1", "$R"]
	[[registry]]
	prefix = "127.0.0.1:1"
	insecure = true
	[[registry]]
	location = "$R"
	insecure = true
	EOF
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve searched >out &&
	test "$(head -n1 out)" = "$IMG"
'

test_expect_success 'drop-ins in registries.conf.d and the user file' '
	mkdir -p "$XDG_CONFIG_HOME/containers/registries.conf.d" &&
	printf "[[registry]]\nlocation = \"%s\"\ninsecure = true\n" $R \
		>"$XDG_CONFIG_HOME/containers/registries.conf.d/50-local.conf" &&
	: >"$XDG_CONFIG_HOME/containers/registries.conf" &&
	registry_get resolve $R/library/busybox >out &&
	printf "[[registry]]\nlocation = \"%s\"\nblocked = true\n" $R \
		>"$XDG_CONFIG_HOME/containers/registries.conf.d/60-block.conf" &&
	test_must_fail registry_get resolve $R/library/busybox 2>err &&
	test_grep "60-block.conf:1" err &&
	rm -r "$XDG_CONFIG_HOME/containers"
'

test_expect_success 'a broken registries.conf names file and line' '
	printf "[[registry]]\nlocation = \"x\"\ninsecure = maybe\n" >bad.conf &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=bad.conf \
		"$KILN_HELPERS/registry-get" resolve busybox 2>err &&
	test_grep "bad.conf:3: invalid value .maybe." err &&
	printf "[[registry]]\nprefix = \"docker.io\"\nmirror-typo = true\n" >bad2.conf &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=bad2.conf \
		"$KILN_HELPERS/registry-get" resolve busybox 2>err &&
	test_grep "bad2.conf:3: unknown key .mirror-typo." err &&
	test_must_fail env CONTAINERS_REGISTRIES_CONF=missing.conf \
		"$KILN_HELPERS/registry-get" resolve busybox 2>err &&
	test_grep "missing.conf" err
'

test_done
