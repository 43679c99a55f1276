#!/bin/bash
# TLS: a registry with a certificate from a private CA, trusted through a
# certs directory (--cert-dir, or certs.d/<host:port>/), client
# certificates, and --tls-verify=false.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX,OPENSSL ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox, openssl"

make_ca "$TRASH/ca" || exit 1
start_registry tls --tls "$TRASH/ca/server.crt" "$TRASH/ca/server.key" || exit 1
R=$REGISTRY
make_image "$TRASH/img" latest &&
	seed_registry "$TRASH/img" latest "$R/library/busybox:latest" || exit 1
export CONTAINERS_REGISTRIES_CONF=/dev/null
export XDG_CONFIG_HOME=$TRASH/config
mkdir -p "$TRASH/certs" && cp "$TRASH/ca/ca.crt" "$TRASH/certs/"

# The registry listens on 127.0.0.1, which kiln (like docker) treats as
# insecure unless --tls-verify=true: these tests ask for verification.
test_expect_success 'an unknown CA is refused' '
	test_must_fail registry_get --tls-verify=true resolve $R/library/busybox 2>err &&
	test_grep -i "certificate" err
'

test_expect_success 'the CA from --cert-dir is trusted' '
	registry_get --cert-dir "$TRASH/certs" resolve $R/library/busybox >out &&
	test_grep "application/vnd.oci.image.manifest.v1+json" out &&
	registry_get --cert-dir "$TRASH/certs" pull $R/library/busybox p &&
	diff -r "$TRASH/img/blobs" p/blobs
'

test_expect_success 'the CA from certs.d/<host:port>/ is trusted' '
	mkdir -p "$XDG_CONFIG_HOME/containers/certs.d/$R" &&
	cp "$TRASH/ca/ca.crt" "$XDG_CONFIG_HOME/containers/certs.d/$R/" &&
	registry_get --tls-verify=true resolve $R/library/busybox >out &&
	rm -r "$XDG_CONFIG_HOME/containers/certs.d/$R" &&
	test_must_fail registry_get --tls-verify=true resolve $R/library/busybox
'

test_expect_success '--tls-verify=false skips verification' '
	registry_get --tls-verify=false resolve $R/library/busybox >out
'

test_expect_success 'insecure in registries.conf skips verification, keeps https' '
	printf "[[registry]]\nlocation = \"%s\"\ninsecure = true\n" $R >c &&
	CONTAINERS_REGISTRIES_CONF=c registry_get resolve $R/library/busybox >out
'

stop_registry tls
start_registry mtls --tls "$TRASH/ca/server.crt" "$TRASH/ca/server.key" \
	--clientca "$TRASH/ca/ca.crt" || exit 1
M=$REGISTRY

test_expect_success 'a registry wanting a client certificate refuses without' '
	test_must_fail registry_get --cert-dir "$TRASH/certs" \
		resolve $M/library/busybox 2>err
'

test_expect_success 'a client certificate and key from the certs dir' '
	cp "$TRASH/ca/client.cert" "$TRASH/ca/client.key" "$TRASH/certs/" &&
	registry_get --cert-dir "$TRASH/certs" push "$TRASH/img" \
		$M/library/busybox:latest >out &&
	test_grep uploaded out &&
	registry_get --cert-dir "$TRASH/certs" pull $M/library/busybox p2 &&
	diff -r "$TRASH/img/blobs" p2/blobs
'

test_done
