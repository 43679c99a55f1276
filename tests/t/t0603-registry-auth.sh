#!/bin/bash
# Authentication: htpasswd (Basic) and docker token auth through a token
# server fixture, credentials from --creds, auth.json, docker's
# config.json and credential helpers; no secret ever reaches the output.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX,OPENSSL,HTPASSWD ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox, openssl, htpasswd"

PW='s3cret-Pa55-w0rd-7731'
htpasswd -Bbn alice "$PW" >"$TRASH/htpasswd" || exit 1
start_registry basic --htpasswd "$TRASH/htpasswd" || exit 1
B=$REGISTRY
make_image "$TRASH/img" latest || exit 1
skopeo copy -q --dest-tls-verify=false --dest-creds "alice:$PW" \
	oci:"$TRASH/img":latest docker://$B/library/busybox:latest || exit 1
# every 127.0.0.1:port is insecure: one [[registry]] per port
mkconf() {
	for r in "$@"; do
		printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$r"
	done >"$TRASH/insecure.conf"
}
mkconf $B
export CONTAINERS_REGISTRIES_CONF=$TRASH/insecure.conf
export HOME=$TRASH/home XDG_RUNTIME_DIR=$TRASH/run
unset REGISTRY_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
b64() { printf '%s' "$1" | base64 -w0; }
no_secret() { # files...: none holds the password (or its base64)
	! grep -l -e "$PW" -e "$(b64 "alice:$PW")" "$@"
}

test_expect_success 'basic: no credentials is a clear 401' '
	test_must_fail registry_get resolve $B/library/busybox 2>err &&
	test_grep "401 unauthorized" err
'

test_expect_success 'basic: --creds' '
	registry_get --creds "alice:$PW" pull $B/library/busybox p >out 2>err &&
	diff -r "$TRASH/img/blobs" p/blobs &&
	no_secret out err
'

test_expect_success 'basic: a wrong password is a clear 401' '
	test_must_fail registry_get --creds alice:wrong resolve \
		$B/library/busybox 2>err &&
	test_grep "401 unauthorized" err &&
	! grep wrong err
'

test_expect_success 'basic: auth.json in XDG_RUNTIME_DIR' '
	mkdir -p "$XDG_RUNTIME_DIR/containers" &&
	printf "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}" $B "$(b64 "alice:$PW")" \
		>"$XDG_RUNTIME_DIR/containers/auth.json" &&
	registry_get resolve $B/library/busybox >out &&
	rm "$XDG_RUNTIME_DIR/containers/auth.json"
'

test_expect_success 'basic: --authfile and REGISTRY_AUTH_FILE, most specific key wins' '
	printf "{\"auths\":{\"%s\":{\"auth\":\"%s\"},\"%s/library\":{\"auth\":\"%s\"}}}" \
		$B "$(b64 alice:wrong)" $B "$(b64 "alice:$PW")" >a.json &&
	registry_get --authfile a.json resolve $B/library/busybox >out &&
	REGISTRY_AUTH_FILE=$PWD/a.json registry_get resolve $B/library/busybox >out &&
	test_must_fail registry_get --authfile a.json resolve $B/other/x 2>err &&
	test_grep "401" err
'

test_expect_success 'basic: ~/.docker/config.json auths (URL keys too)' '
	mkdir -p "$HOME/.docker" &&
	printf "{\"auths\":{\"http://%s/v1/\":{\"auth\":\"%s\"}}}" $B "$(b64 "alice:$PW")" \
		>"$HOME/.docker/config.json" &&
	registry_get resolve $B/library/busybox >out &&
	rm "$HOME/.docker/config.json"
'

test_expect_success 'basic: credHelpers and credsStore run docker-credential-*' '
	mkdir -p bin &&
	cat >bin/docker-credential-kilntest <<-EOF &&
	#!/bin/sh
	read server
	echo "\$server" >>"$PWD/helper.log"
	[ "\$1" = get ] || exit 1
	printf "{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"%s\"}" "\$server" "$PW"
	EOF
	chmod +x bin/docker-credential-kilntest &&
	mkdir -p "$HOME/.docker" &&
	printf "{\"credHelpers\":{\"%s\":\"kilntest\"}}" $B >"$HOME/.docker/config.json" &&
	PATH=$PWD/bin:$PATH registry_get resolve $B/library/busybox >out 2>err &&
	test_grep "^$B\$" helper.log &&
	printf "{\"credsStore\":\"kilntest\"}" >"$HOME/.docker/config.json" &&
	PATH=$PWD/bin:$PATH registry_get resolve $B/library/busybox >out 2>>err &&
	test "$(wc -l <helper.log)" = 2 &&
	no_secret out err &&
	rm "$HOME/.docker/config.json"
'

test_expect_success 'basic: KILN_DEBUG output redacts the credentials' '
	KILN_DEBUG=1 registry_get --creds "alice:$PW" resolve \
		$B/library/busybox >out 2>err &&
	test_grep "Authorization: Basic <redacted>" err &&
	no_secret out err
'

# ------------------------------------------------------------ token auth
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kiln-token \
	-keyout "$TRASH/tok.key" -out "$TRASH/tok.crt" 2>/dev/null || exit 1
echo "alice:$PW" >"$TRASH/users"
start_token() { # name [--no-get]: sets TP
	TP=$(free_port)
	start_fixture "$1" $TP python3 "$FIXTURES/token-server.py" $TP \
		"$TRASH/tok.key" "$TRASH/tok.crt" kiln-issuer kiln-registry \
		"$TRASH/users" "$TRASH/$1.requests" "${@:2}"
}
start_token tok1
start_registry token --token "http://127.0.0.1:$TP/token" kiln-registry \
	kiln-issuer "$TRASH/tok.crt" || exit 1
T=$REGISTRY
skopeo copy -q --dest-tls-verify=false --dest-creds "alice:$PW" \
	oci:"$TRASH/img":latest docker://$T/library/busybox:latest || exit 1
start_token tok2 --no-get
start_registry token2 --token "http://127.0.0.1:$TP/token" kiln-registry \
	kiln-issuer "$TRASH/tok.crt" || exit 1
T2=$REGISTRY
mkconf $B $T $T2

test_expect_success 'token: the registry accepts the tokens; one per scope' '
	: >"$TRASH/tok1.requests" &&
	registry_get --creds "alice:$PW" --parallel 1 pull $T/library/busybox p \
		>out 2>err &&
	diff -r "$TRASH/img/blobs" p/blobs &&
	test "$(cat "$TRASH/tok1.requests")" = "GET alice ok" &&
	no_secret out err
'

test_expect_success 'token: anonymous access is refused clearly' '
	test_must_fail registry_get resolve $T/library/busybox 2>err &&
	cat err &&
	test_grep "401 unauthorized" err
'

test_expect_success 'token: a wrong password is a clear 401 error' '
	test_must_fail registry_get --creds alice:wrong-pw resolve \
		$T/library/busybox 2>err &&
	cat err &&
	test_grep "token server .* answered 401" err &&
	! grep wrong-pw err
'

test_expect_success 'token: push (pull,push scope) and a mount (two scopes)' '
	registry_get --creds "alice:$PW" push "$TRASH/img" $T/team/app:1 >out &&
	test_grep uploaded out &&
	registry_get --creds "alice:$PW" --mount-from team/app push "$TRASH/img" \
		$T/team/app2:1 >out &&
	test_grep mounted out
'

test_expect_success 'token: POST OAuth2 fallback when GET fails' '
	registry_get --creds "alice:$PW" push "$TRASH/img" $T2/team/app:1 >out 2>err &&
	test_grep "^POST alice ok" "$TRASH/tok2.requests" &&
	registry_get --creds "alice:$PW" resolve $T2/team/app:1 >out &&
	test_must_fail registry_get --creds "alice:nope" resolve \
		$T2/team/app:1 2>err &&
	test_grep "401" err
'

test_expect_success 'token: KILN_DEBUG shows no password and no token' '
	KILN_DEBUG=1 registry_get --creds "alice:$PW" pull $T/library/busybox p2 \
		>out 2>err &&
	test_grep "Authorization: Bearer <redacted>" err &&
	no_secret out err &&
	! grep -E "Bearer [A-Za-z0-9_-]{20,}" err &&
	! grep -E "eyJ[A-Za-z0-9_-]{20,}" out err
'

test_done
