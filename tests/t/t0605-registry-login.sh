#!/bin/bash
# kiln login / kiln logout against registries with htpasswd and token
# auth: credentials are verified, stored 0600 in the auth file, used by
# the client, removed again; the password never appears in any output.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq REGISTRY,SKOPEO,PYTHON,BUSYBOX,OPENSSL,HTPASSWD ||
	test_skip_all "needs docker-registry, skopeo, python3, busybox, openssl, htpasswd"

PW='L0gin-s3cret-9920'
htpasswd -Bbn alice "$PW" >"$TRASH/htpasswd" || exit 1
start_registry basic --htpasswd "$TRASH/htpasswd" || exit 1
B=$REGISTRY
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kiln-token \
	-keyout "$TRASH/tok.key" -out "$TRASH/tok.crt" 2>/dev/null || exit 1
echo "alice:$PW" >"$TRASH/users"
TP=$(free_port)
start_fixture tok $TP python3 "$FIXTURES/token-server.py" $TP \
	"$TRASH/tok.key" "$TRASH/tok.crt" kiln-issuer kiln-registry \
	"$TRASH/users" "$TRASH/tok.requests" || exit 1
start_registry token --token "http://127.0.0.1:$TP/token" kiln-registry \
	kiln-issuer "$TRASH/tok.crt" || exit 1
T=$REGISTRY
start_registry open || exit 1
O=$REGISTRY
make_image "$TRASH/img" latest &&
	skopeo copy -q --dest-tls-verify=false --dest-creds "alice:$PW" \
		oci:"$TRASH/img":latest docker://$B/library/busybox:latest || exit 1
for r in $B $T $O; do
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' $r
done >"$TRASH/r.conf"
export CONTAINERS_REGISTRIES_CONF=$TRASH/r.conf
export HOME=$TRASH/home XDG_RUNTIME_DIR=$TRASH/run
unset REGISTRY_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
AUTH=$XDG_RUNTIME_DIR/containers/auth.json
# keep every byte kiln prints, for the last test
kiln() {
	local rc
	"$KILN_BIN" "$@" >"$TRASH/last.out" 2>"$TRASH/last.err"
	rc=$?
	cat "$TRASH/last.out" | tee -a "$TRASH/all.out"
	cat "$TRASH/last.err" | tee -a "$TRASH/all.err" >&2
	return $rc
}

test_expect_success 'login with -u/-p stores 0600 credentials the client uses' '
	kiln login -u alice -p "$PW" $B >out 2>err &&
	test_grep "^Login Succeeded!" out &&
	test_grep "insecure" err &&
	test "$(stat -c %a "$AUTH")" = 600 &&
	test_grep "\"$B\"" "$AUTH" &&
	! grep "$PW" "$AUTH" &&
	registry_get resolve $B/library/busybox >r &&
	test_grep manifest r
'

test_expect_success 'login --get-login' '
	kiln login --get-login $B >out &&
	test "$(cat out)" = alice
'

test_expect_success 'a wrong password is refused and nothing is stored' '
	cp "$AUTH" before &&
	echo wrong-pass-77 | test_must_fail kiln login -u alice \
		--password-stdin $B >out 2>err &&
	test_grep "401 unauthorized: wrong username or password" err &&
	! grep wrong-pass-77 out err &&
	cmp before "$AUTH"
'

test_expect_success 'login --password-stdin to a token registry' '
	echo "$PW" | kiln login -u alice --password-stdin $T >out 2>err &&
	test_grep "^Login Succeeded!" out &&
	test_grep "^GET alice ok" "$TRASH/tok.requests" &&
	registry_get resolve $B/library/busybox >r &&
	registry_get push "$TRASH/img" $T/team/app:1 >r
'

test_expect_success 'a wrong password at the token server is refused' '
	echo nope-nope | test_must_fail kiln login -u alice --password-stdin \
		$T 2>err &&
	test_grep "401" err
'

test_expect_success 'login to a registry without auth succeeds' '
	kiln login -u bob --password-stdin $O <<<"anything" >out &&
	test_grep "Login Succeeded" out
'

test_expect_success 'login --authfile and REGISTRY_AUTH_FILE' '
	echo "$PW" | kiln login --authfile a.json -u alice --password-stdin $B &&
	test_grep "$B" a.json &&
	echo "$PW" | REGISTRY_AUTH_FILE=$PWD/b.json kiln login -u alice \
		--password-stdin $B &&
	test_grep "$B" b.json
'

test_expect_success 'login without a terminal and without -u fails clearly' '
	test_must_fail kiln login $B </dev/null 2>err &&
	test_grep "username required" err
'

test_expect_success 'logout removes one registry, then complains' '
	kiln logout $B >out &&
	test_grep "Removed login credentials for $B" out &&
	! grep "\"$B\"" "$AUTH" &&
	test_grep "\"$T\"" "$AUTH" &&
	test_must_fail registry_get resolve $B/library/busybox 2>err &&
	test_grep 401 err &&
	test_must_fail kiln logout $B 2>err &&
	test_grep "not logged in" err
'

test_expect_success 'logout --all' '
	kiln logout --all >out &&
	test_grep "all registries" out &&
	! grep "$T" "$AUTH"
'

test_expect_success 'logout from a login made by docker says so' '
	mkdir -p "$HOME/.docker" &&
	printf "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}" $B \
		"$(printf "alice:%s" "$PW" | base64 -w0)" >"$HOME/.docker/config.json" &&
	test_must_fail kiln logout $B 2>err &&
	test_grep "another file" err &&
	rm "$HOME/.docker/config.json"
'

test_expect_success 'KILN_DEBUG login output holds no secret' '
	echo "$PW" | KILN_DEBUG=1 kiln login -u alice --password-stdin $T \
		>out 2>err &&
	test_grep "Authorization: Basic <redacted>" err &&
	test_grep "Authorization: Bearer <redacted>" err &&
	! grep -e "$PW" -e "$(printf "alice:%s" "$PW" | base64 -w0)" out err
'

test_expect_success 'the password appears in no output of this script' '
	test -s "$TRASH/all.out" && test -s "$TRASH/all.err" &&
	! grep -r -l -e "$PW" -e "$(printf "alice:%s" "$PW" | base64 -w0)" \
		"$TRASH"/all.* "$TRASH"/w "$TRASH"/*.log "$TRASH"/*/log \
		--exclude=auth.json --exclude=a.json --exclude=b.json --exclude=before 2>/dev/null
'

test_done
