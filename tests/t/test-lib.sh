# test-lib.sh — git-style shell test library for kiln (bash).
#
#   . "$(dirname "$0")/test-lib.sh"
#   test_expect_success 'what it checks' '
#       kiln images >out &&
#       test_cmp expect out
#   '
#   test_expect_success ROOT,OVERLAY 'needs root' '...'
#   test_done
#
# Every test body runs in a fresh scratch directory ($TRASH) with KILN_ROOT
# pointing at a private store inside it.  Output is TAP; prerequisites that
# are missing turn a test into "ok N # skip ... (missing PREREQ)".

set -u
TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/../.." && pwd)
KILN_BIN=${KILN_BIN:-$SRC_DIR/kiln}
CORPUS=${KILN_CORPUS:-$SRC_DIR/../shared/corpus}
[ -d "$CORPUS" ] && CORPUS=$(cd "$CORPUS" && pwd)
TEST_DATA=$SRC_DIR/tests/data
test_name=$(basename "$0" .sh)
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/kiln-$test_name.XXXXXX")
export KILN_ROOT=$TRASH/store
test_count=0
test_failed=0
test_verbose=${TEST_VERBOSE:-}

kiln() { "$KILN_BIN" "$@"; }

# Daemons a test started (registries, fixtures) are listed one PID a line
# in $TRASH/.pids and stopped, by PID, when the script exits.
test_kill_daemons() {
	local pid i
	[ -f "$TRASH/.pids" ] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$TRASH/.pids"
	while read -r pid; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$pid" 2>/dev/null
	done <"$TRASH/.pids"
	return 0
}
test_cleanup_trash() {
	test_kill_daemons
	cd / && rm -rf "$TRASH"
}
trap test_cleanup_trash EXIT

# ---------------------------------------------------------------- prereqs
declare -A test_prereq_cache=()
test_have_prereq_one() {
	local p=$1
	if [ -n "${test_prereq_cache[$p]:-}" ]; then
		[ "${test_prereq_cache[$p]}" = yes ]
		return
	fi
	local r=no
	case $p in
	ROOT) [ "$(id -u)" = 0 ] && r=yes ;;
	USERNS) unshare --user true 2>/dev/null && r=yes ;;
	OVERLAY) grep -qw overlay /proc/filesystems && r=yes ;;
	CORPUS) [ -d "$CORPUS" ] && r=yes ;;
	REGISTRY) command -v docker-registry >/dev/null && r=yes ;;
	SKOPEO) command -v skopeo >/dev/null && r=yes ;;
	UMOCI) command -v umoci >/dev/null && r=yes ;;
	PODMAN) command -v podman >/dev/null && r=yes ;;
	RUNC) command -v runc >/dev/null && r=yes ;;
	BUSYBOX) [ -x /bin/busybox ] && r=yes ;;
	PYTHON) command -v python3 >/dev/null && r=yes ;;
	HTPASSWD) command -v htpasswd >/dev/null && r=yes ;;
	OPENSSL) command -v openssl >/dev/null && r=yes ;;
	*)
		if [ -n "${test_prereq_set[$p]:-}" ]; then r=yes; fi
		;;
	esac
	test_prereq_cache[$p]=$r
	[ $r = yes ]
}
declare -A test_prereq_set=()
test_set_prereq() { test_prereq_set[$1]=1; test_prereq_cache[$1]=yes; }

test_missing_prereq=
test_have_prereq() {
	local IFS=, p
	test_missing_prereq=
	for p in $1; do
		test_have_prereq_one "$p" || test_missing_prereq=${test_missing_prereq:+$test_missing_prereq,}$p
	done
	[ -z "$test_missing_prereq" ]
}

# Skip a whole script: test_skip_all "reason"
test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# ---------------------------------------------------------------- runners
test_run_() {
	local body=$1
	(
		mkdir -p "$TRASH/w" && cd "$TRASH/w" || exit 1
		eval "$body"
	) >"$TRASH/log" 2>&1
}

test_expect_success() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local desc=$1 body=$2
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $desc (missing $test_missing_prereq)"
		return
	fi
	if test_run_ "$body"; then
		echo "ok $test_count - $desc"
		[ -n "$test_verbose" ] && sed 's/^/#   /' "$TRASH/log"
	else
		echo "not ok $test_count - $desc"
		sed 's/^/#   /' "$TRASH/log" | tail -n 40
		test_failed=$((test_failed + 1))
	fi
	return 0
}

test_expect_failure() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local desc=$1 body=$2
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $desc (missing $test_missing_prereq)"
		return
	fi
	if test_run_ "$body"; then
		echo "not ok $test_count - $desc (known breakage fixed?)"
		test_failed=$((test_failed + 1))
	else
		echo "ok $test_count - $desc # TODO known breakage"
	fi
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
	exit $?
}

# ---------------------------------------------------------------- helpers
test_cmp() { diff -u "$1" "$2"; }

# test_must_fail [STATUS] CMD...: CMD fails (not by a signal); with a numeric
# first argument the exit status must equal it.
test_must_fail() {
	local want=
	case $1 in [0-9]*) want=$1; shift ;; esac
	"$@"
	local rc=$?
	if [ $rc = 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	fi
	if [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo "test_must_fail: killed by signal $((rc - 128)): $*" >&2
		return 1
	fi
	if [ -n "$want" ] && [ "$rc" != "$want" ]; then
		echo "test_must_fail: exit $rc, want $want: $*" >&2
		return 1
	fi
	return 0
}

# podman_setup: define the PODMANROOT prerequisite (podman installed, we are
# root) and write a private configuration for podman_: podman with its own
# storage in $TRASH and the settings that make it run here (runc,
# cgroupfs, no network; see ../shared/peers/README.md).
podman_setup() {
	# podman's default rlimits exceed what this host lets us set (no
	# CAP_SYS_RESOURCE): ask for what we have (nproc is capped by conmon)
	local nofile nproc
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
	[ "$nofile" = unlimited ] && nofile=1048576
	cat >"$TRASH/containers.conf" <<-EOF2
	[containers]
	netns = "none"
	default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	EOF2
	printf '[storage]\ndriver = "vfs"\nrunroot = "%s/podrun"\ngraphroot = "%s/podroot"\n' \
		"$TRASH" "$TRASH" >"$TRASH/storage.conf"
	if test_have_prereq PODMAN && test_have_prereq ROOT; then
		test_set_prereq PODMANROOT
	fi
}
podman_() {
	CONTAINERS_CONF=$TRASH/containers.conf \
	CONTAINERS_STORAGE_CONF=$TRASH/storage.conf \
		podman --root "$TRASH/podroot" --runroot "$TRASH/podrun" \
		--storage-driver vfs "$@"
}

# wait_for FILE PATTERN [SECONDS]: poll until the file matches (10 s).
wait_for() {
	local i
	for i in $(seq 1 $((${3:-10} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timeout waiting for '$2' in $1"; cat "$1"
	return 1
}

test_grep() {
	if ! grep "$@"; then
		echo "test_grep: no match for: $*" >&2
		local last
		for last; do :; done
		[ -f "$last" ] && sed 's/^/  | /' "$last" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- daemons
KILN_HELPERS=${KILN_HELPERS:-$SRC_DIR/${O:-out}/tests}
FIXTURES=$SRC_DIR/tests/fixtures
test_daemon_started() { echo "$1" >>"$TRASH/.pids"; }

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens on 127.0.0.1:PORT, at most ~10s.
wait_port() {
	local i=0
	while [ $i -lt 100 ]; do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# wait_http URL: until anything answers (any status), at most ~10s.
wait_http() {
	local i=0
	while [ $i -lt 100 ]; do
		curl -ks -o /dev/null "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "nothing answers at $1" >&2
	return 1
}

# start_registry NAME [--tls CERT KEY [--clientca CA]] [--htpasswd FILE]
#                [--token REALM SERVICE ISSUER ROOTCERTS] [--port N]
# Runs Debian's docker-registry on 127.0.0.1 with its storage in
# $TRASH/NAME; sets REGISTRY_PORT and REGISTRY (127.0.0.1:PORT) and leaves
# NAME/pid, NAME/port, NAME/config.yml.  Call it outside test bodies (it
# sets variables the later tests use).  restart_registry NAME starts it
# again on the same port and storage; stop_registry NAME stops it.
start_registry() {
	local name=$1
	shift
	local d=$TRASH/$name port= tls= auth=
	mkdir -p "$d/data"
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) tls="  tls:
    certificate: $2
    key: $3"; shift 3 ;;
		--clientca) tls="$tls
    clientcas:
      - $2"; shift 2 ;;
		--htpasswd) auth="auth:
  htpasswd:
    realm: kiln-test
    path: $2"; shift 2 ;;
		--token) auth="auth:
  token:
    realm: $2
    service: $3
    issuer: $4
    rootcertbundle: $5"; shift 5 ;;
		--port) port=$2; shift 2 ;;
		*) echo "start_registry: unknown option $1" >&2; return 1 ;;
		esac
	done
	[ -n "$port" ] || port=$(free_port)
	cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: kiln-test-secret
$tls
$auth
EOF
	echo "$port" >"$d/port"
	if [ -n "$tls" ]; then echo https >"$d/scheme"; else echo http >"$d/scheme"; fi
	restart_registry "$name"
}

restart_registry() {
	local d=$TRASH/$1
	REGISTRY_PORT=$(cat "$d/port")
	REGISTRY=127.0.0.1:$REGISTRY_PORT
	setsid docker-registry serve "$d/config.yml" >>"$d/log" 2>&1 </dev/null &
	echo $! >"$d/pid"
	test_daemon_started $!
	wait_port "$REGISTRY_PORT" || {
		cat "$d/log" >&2
		return 1
	}
}

stop_registry() {
	local pid
	pid=$(cat "$TRASH/$1/pid")
	kill "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# start_fixture NAME PORT CMD...: a fixture server in the background,
# stopped at exit; waits until PORT answers.
start_fixture() {
	local name=$1 port=$2
	shift 2
	setsid "$@" >>"$TRASH/$name.log" 2>&1 </dev/null &
	test_daemon_started $!
	wait_port "$port"
}

# make_image DIR TAG [make-oci-layout options]: an OCI layout of the busybox
# rootfs (made once by tests/images/make-rootfs.sh, cached in /var/tmp).
make_image() {
	local dir=$1 tag=$2 rootfs
	shift 2
	rootfs=$(bash "$SRC_DIR/tests/images/make-rootfs.sh" busybox 2>/dev/null) || return 1
	python3 "$FIXTURES/make-oci-layout.py" "$dir" "$tag" "$rootfs" "$@" >/dev/null
}
# seed_registry DIR TAG DEST: skopeo copy an OCI layout into a registry.
seed_registry() {
	skopeo copy -q --all --dest-tls-verify=false "oci:$1:$2" "docker://$3"
}
# registry_get ARGS: the registry client test driver.
registry_get() { "$KILN_HELPERS/registry-get" "$@"; }

# make_ca DIR: a test CA (DIR/ca.crt, ca.key) and a server certificate for
# 127.0.0.1 and localhost (DIR/server.crt, server.key) signed by it, and a
# client certificate (DIR/client.cert, client.key).
make_ca() {
	local d=$1
	mkdir -p "$d" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kiln-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=kiln-client \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null &&
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -out "$d/client.cert" 2>/dev/null
}
