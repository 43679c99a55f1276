#!/bin/bash
# kiln run / ps / rm end to end on the busybox image: isolation, masks,
# exit statuses, signals, binds, environment, users, pty, the
# CVE-2024-21626 shape, rootless, container records, and docker's errors.
# Isolation tests run for both executors (native, and oci via runc) and
# end by checking that no mount, no staging dir and no process is left.
. "$(dirname "$0")/test-lib.sh"

test_have_prereq ROOT,OVERLAY,BUSYBOX ||
	test_skip_all "needs $test_missing_prereq (kiln run mounts overlays as root)"
command -v script >/dev/null && test_set_prereq SCRIPT

# The rootless test runs as another user: the trash dir must be reachable.
chmod 755 "$TRASH"
ROOTFS=$("$SRC_DIR/tests/images/make-rootfs.sh" busybox) ||
	test_skip_all "cannot make the busybox rootfs"
PATHENV="ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
kiln import --change 'CMD ["sh"]' --change "$PATHENV" \
	"$ROOTFS" busybox:latest >/dev/null ||
	test_skip_all "cannot import busybox"
kiln import --change 'CMD ["sh"]' --change "$PATHENV" \
	--change "ENV A=image B=image C=image" "$ROOTFS" envimg >/dev/null &&
	kiln import --change 'ENTRYPOINT ["echo", "ep"]' --change 'CMD ["cmd"]' \
		--change "$PATHENV" "$ROOTFS" epimg >/dev/null ||
	test_skip_all "cannot import the test images"
export ROOTFS

# check_clean: nothing of ours is left: mounts, staging dirs, processes
# (a kiln of this store, or a container command carrying $MARK),
# and no container unless the test keeps one.
check_clean() {
	if grep -q "$TRASH" /proc/self/mountinfo; then
		echo "mounts left behind:"; grep "$TRASH" /proc/self/mountinfo
		return 1
	fi
	if [ -n "$(ls -A "$KILN_ROOT/tmp")" ]; then
		echo "staging left behind: $(ls -A "$KILN_ROOT/tmp")"
		return 1
	fi
	local i left
	for i in $(seq 1 30); do
		left=$(our_procs)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "processes left behind: $left"
	return 1
}
our_procs() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] || [ "${p#/proc/}" = $BASHPID ] && continue
		{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null |
			grep -qx "KILN_ROOT=$KILN_ROOT" && echo "${p#/proc/}"
	done
	# container processes: their argv carries this run's marker
	pgrep -f "$MARK"
}
# A number unique to this run, for `sleep $MARK...` in containers.
MARK=$((100000 + RANDOM))$$
no_containers() {
	test -z "$(ls -A "$KILN_ROOT/containers" 2>/dev/null | grep -v '^lock$')" || {
		echo "containers left: $(ls "$KILN_ROOT/containers")"; return 1; }
}

# run_test [PREREQ] DESC BODY: once per executor; `kr` is `kiln run` with
# the executor's flags, $EX its name.
run_test() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local ex
	for ex in native oci; do
		local p=$prereq
		[ $ex = oci ] && p=${p:+$p,}RUNC
		X= EX=$ex
		[ $ex = oci ] && X="--isolation=oci --runtime=runc"
		export X EX
		test_expect_success ${p:+"$p"} "$ex: $1" "$2
		check_clean"
	done
}
kr() { kiln run $X "$@"; }
export -f kr

# ---------------------------------------------------------------- isolation
run_test 'the command is PID 1 and host processes are invisible' '
	sleep 30 & host_pid=$!
	kr --rm busybox sh -c "echo \$\$; ls /proc | grep -c \"^[0-9]\"; test -e /proc/$host_pid && echo visible" >out
	rc=$?; kill $host_pid; wait $host_pid 2>/dev/null
	test $rc = 0 &&
	test "$(sed -n 1p out)" = 1 &&
	test "$(sed -n 2p out)" -le 3 &&
	! grep visible out
'

run_test 'the hostname is the container'"'"'s: its short ID, or --hostname' '
	kr --name "h-$EX" busybox sh -c "hostname; cat /etc/hostname; echo \$HOSTNAME" >out &&
	id=$(kiln ps -aq | head -n 1) &&
	printf "%s\n%s\n%s\n" $id $id $id >expect && test_cmp expect out &&
	kiln rm "h-$EX" >/dev/null &&
	kr --rm --hostname kiln-box busybox sh -c "hostname; grep -c . /etc/hosts" >out &&
	test "$(sed -n 1p out)" = kiln-box &&
	test "$(hostname)" != kiln-box &&
	kr --rm --network host busybox hostname >out &&
	hostname >expect && test_cmp expect out
'

run_test 'mount fails' '
	test_must_fail kr --rm busybox sh -c "mkdir -p /mnt && mount -t tmpfs none /mnt" 2>err
'

run_test '/proc/kcore is masked, /proc/sys is read-only' '
	kr --rm busybox wc -c /proc/kcore >out &&
	test "$(awk "{print \$1}" out)" = 0 &&
	test_must_fail kr --rm busybox sh -c "echo kiln >/proc/sys/kernel/domainname" 2>err &&
	test_grep "Read-only file system" err
'

run_test '--network=none shows only lo' '
	kr --rm --network=none busybox sh -c "ls /sys/class/net; ip -o link" >out &&
	test "$(sed -n 1p out)" = lo &&
	test "$(grep -c ": " out)" = 1
'

run_test 'writes change neither the image nor the host' '
	kr --rm busybox sh -c "echo new >/newfile-$EX && echo x >>/etc/passwd && rm /bin/vi" &&
	test ! -e /newfile-$EX &&
	kr --rm busybox sh -c "test ! -e /newfile-$EX && test -e /bin/vi && ! grep -x x /etc/passwd" &&
	kiln fsck >out && test_grep consistent out
'

run_test 'exit statuses 0, 1, 42 and 137 for SIGKILL' '
	kr --rm busybox true &&
	test_must_fail 1 kr --rm busybox false &&
	test_must_fail 42 kr --rm busybox sh -c "exit 42" &&
	"$KILN_BIN" run $X --rm busybox sh -c "echo ready; exec sleep $MARK" >out &
	pid=$!
	wait_for out ready &&
	for i in $(seq 1 50); do
		victim=$(pgrep -x -f "sleep $MARK") && break
		sleep 0.1
	done &&
	test -n "$victim" &&
	kill -9 $victim &&
	{ wait $pid; rc=$?; } &&
	test $rc = 137
'

run_test 'SIGTERM and SIGINT sent to kiln reach a trapping PID 1' '
	for sig in TERM INT; do
		"$KILN_BIN" run $X --rm busybox sh -c "trap \"echo got $sig; exit 3\" $sig; echo ready; i=$MARK; while [ \$i -lt $((MARK + 400)) ]; do sleep 0.05; i=\$((i + 1)); done" >out &
		pid=$!
		wait_for out ready || return 1
		kill -$sig $pid
		wait $pid; rc=$?
		test $rc = 3 && test_grep "got $sig" out || return 1
	done
'

run_test 'with --init, Ctrl-C (SIGINT to kiln) stops a sleep' '
	"$KILN_BIN" run $X --rm --init busybox sh -c "echo ready; exec sleep $MARK" >out &
	pid=$!
	wait_for out ready &&
	sleep 0.2 &&
	start=$SECONDS &&
	kill -INT $pid &&
	{ wait $pid; rc=$?; } &&
	test $rc = 130 &&
	test $((SECONDS - start)) -lt 10
'

run_test '-v src:dst:ro is read-only, -v src:dst writable' '
	mkdir -p "$TRASH/data-$EX" && echo hello >"$TRASH/data-$EX/f" &&
	kr --rm -v "$TRASH/data-$EX:/data:ro" busybox cat /data/f >out &&
	test_grep hello out &&
	test_must_fail kr --rm -v "$TRASH/data-$EX:/data:ro" busybox sh -c "echo x >/data/g" 2>err &&
	test_grep "Read-only file system" err &&
	test ! -e "$TRASH/data-$EX/g" &&
	kr --rm -v "$TRASH/data-$EX:/data" busybox sh -c "echo x >/data/g" &&
	test -e "$TRASH/data-$EX/g"
'

run_test 'a missing -v source is created as a directory, as docker does' '
	rm -rf "$TRASH/made-$EX" &&
	kr --rm -v "$TRASH/made-$EX/a/b:/data" busybox sh -c "echo x >/data/f" &&
	test -d "$TRASH/made-$EX/a/b" &&
	test "$(cat "$TRASH/made-$EX/a/b/f")" = x
'

run_test 'environment: image, then --env-file, then -e' '
	printf "# comment\n\nB=file\nC=file\nFROMENV\n" >envfile &&
	FROMENV=host D=host kr --rm --env-file envfile -e C=cli -e D -e UNSET_HERE envimg env >out &&
	test_grep "^A=image$" out &&
	test_grep "^B=file$" out &&
	test_grep "^C=cli$" out &&
	test_grep "^D=host$" out &&
	test_grep "^FROMENV=host$" out &&
	! grep UNSET_HERE out &&
	test_grep "^PATH=/usr/local/sbin" out &&
	test_grep "^HOME=/root$" out &&
	test_grep "^HOSTNAME=" out
'

run_test 'USER by name, supplementary groups, HOME, the working directory' '
	kr --rm -u user -w /work/dir busybox sh -c "id -u; id -g; id -G; echo \$HOME; pwd" >out &&
	printf "1000\n1000\n" >expect && head -n 2 out >actual && test_cmp expect actual &&
	sed -n 3p out | grep -w 1000 &&
	test_grep "^/home/user$" out &&
	test_grep "^/work/dir$" out &&
	kr --rm -u 1234:5678 busybox sh -c "id -u; id -g; echo \$HOME" >out &&
	printf "1234\n5678\n/\n" >expect && test_cmp expect out
'

run_test SCRIPT '-t gives the container a tty with the window size' '
	script -qec "stty rows 33 cols 101; kiln run $X --rm -t busybox sh -c \"tty; test -t 0 && test -t 1 && echo IS-A-TTY; stty size; echo \\\$TERM\"" /dev/null >out </dev/null &&
	test_grep "^/dev/pts/[0-9]" out &&
	test_grep IS-A-TTY out &&
	test_grep "^33 101" out &&
	test_grep "^xterm" out &&
	kr --rm busybox sh -c "test -t 0 || echo NOT-A-TTY" </dev/null >out &&
	test_grep NOT-A-TTY out
'

run_test '-i passes stdin' '
	echo through-stdin | kr --rm -i busybox cat >out &&
	test_grep through-stdin out &&
	echo lost | kr --rm busybox cat >out &&
	test ! -s out
'

run_test '-w /proc/self/fd/N (CVE-2024-21626 shape) cannot reach the host' '
	mkdir -p "$TRASH/host-$EX" &&
	for n in 3 4 5 6 7 8; do
		kiln run $X --rm -w /proc/self/fd/$n busybox sh -c "pwd; touch escaped; touch ../../escaped2; ls" 7<"$TRASH/host-$EX" >out 2>&1
		test ! -e "$TRASH/host-$EX/escaped" &&
		test ! -e "$TRASH/escaped2" &&
		! grep -q "host-$EX" out || return 1
	done
'

run_test '--read-only makes the root read-only' '
	test_must_fail kr --rm --read-only busybox touch /x 2>err &&
	test_grep "Read-only file system" err
'

# ---------------------------------------------------------------- command
test_expect_success 'Entrypoint and Cmd combine as docker does' '
	kiln run --rm epimg >out && echo "ep cmd" >expect && test_cmp expect out &&
	kiln run --rm epimg a b >out && echo "ep a b" >expect && test_cmp expect out &&
	kiln run --rm --entrypoint echo epimg >out && echo >expect && test_cmp expect out &&
	kiln run --rm --entrypoint echo epimg x >out && echo x >expect && test_cmp expect out &&
	kiln run --rm --entrypoint "" epimg echo y >out && echo y >expect && test_cmp expect out &&
	test_must_fail 125 kiln run --rm --entrypoint "" epimg 2>err &&
	test_grep "no command specified" err &&
	no_containers && check_clean
'

# ---------------------------------------------------------------- errors
test_expect_success 'bad input: one clear line and docker'"'"'s status' '
	test_must_fail 125 kiln run --rm no-such-image 2>err &&
	echo "Unable to find image '"'"'no-such-image:latest'"'"' locally" >expect &&
	test_cmp expect err &&
	test_must_fail 127 kiln run --rm busybox no-such-command 2>err &&
	test_grep "executable file not found" err && test $(wc -l <err) = 1 &&
	test_must_fail 126 kiln run --rm busybox /etc/passwd 2>err &&
	test $(wc -l <err) = 1 &&
	test_must_fail 125 kiln run --rm -u nobody-here busybox true 2>err &&
	test_grep "unable to find user nobody-here: no matching entries in passwd file" err &&
	test_must_fail 125 kiln run --rm -v /proc/kiln-no-such/dir:/x busybox true 2>err &&
	test_grep "error while creating mount source path ./proc/kiln-no-such/dir.: mkdir /proc/kiln-no-such/dir: No such file or directory" err &&
	test_must_fail 125 kiln run --rm --isolation=oci --runtime=kiln-no-such-runtime busybox true 2>err &&
	test_grep "runtime \"kiln-no-such-runtime\" not found" err &&
	test_must_fail 125 kiln run --rm --network=bridge busybox true 2>err &&
	test_grep "network bridge not found" err &&
	no_containers && check_clean
'

# ---------------------------------------------------------------- records
test_expect_success 'ps -a and rm: records, names, running containers' '
	kiln run --name first busybox true &&
	test_must_fail 3 kiln run --name second busybox sh -c "exit 3" &&
	kiln ps -a >out &&
	head -n 1 out | grep -E "^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$" &&
	grep -E "^[0-9a-f]{12} +busybox +\"true\" +.* ago +Exited \(0\) .* ago +first$" out &&
	grep -E "Exited \(3\) .* ago +second$" out &&
	test $(kiln ps | wc -l) = 1 &&
	test_must_fail 125 kiln run --name first busybox true 2>err &&
	test_grep "Conflict. The container name \"/first\" is already in use by container" err &&
	"$KILN_BIN" run --name runner busybox sh -c "echo ready; exec sleep $MARK" >out &
	pid=$! &&
	wait_for out ready &&
	kiln ps >ps && grep -E "Up .* +runner$" ps &&
	test_must_fail kiln rm runner 2>err &&
	test_grep "You cannot remove a running container" err &&
	kiln rm -f runner >out && echo runner >expect && test_cmp expect out &&
	{ wait $pid; true; } &&
	id=$(kiln ps -aq --no-trunc | tail -n 1) &&
	kiln rm ${id:0:6} second >out &&
	printf "%s\n%s\n" ${id:0:6} second >expect && test_cmp expect out &&
	test_must_fail 1 kiln rm no-such-container 2>err &&
	test_grep "No such container: no-such-container" err &&
	kiln ps -a >out && test $(wc -l <out) = 1 &&
	no_containers && check_clean
'

test_expect_success 'a kept container keeps its writable layer; --rm leaves nothing' '
	kiln run --name keep busybox sh -c "echo data >/kept" &&
	id=$(kiln ps -aq --no-trunc) &&
	test "$(cat "$KILN_ROOT/containers/$id/upper/kept")" = data &&
	test ! -e "$KILN_ROOT/containers/$id/work" &&
	kiln rm keep >/dev/null &&
	test ! -e "$KILN_ROOT/containers/$id" &&
	kiln run --rm busybox sh -c "echo data >/kept" &&
	no_containers && check_clean
'

test_expect_success 'images containers use survive prune and rmi' '
	kiln tag busybox:latest inuse:1 &&
	kiln run --name user1 inuse:1 true &&
	id=$(kiln images -q inuse:1) && test -n "$id" &&
	kiln rmi busybox >out && test_grep "Untagged: busybox:latest" out &&
	test_must_fail kiln rmi inuse:1 2>err &&
	test_grep "unable to remove repository reference \"inuse:1\" (must force) - container" err &&
	kiln rmi -f inuse:1 >out && test_grep "Untagged: inuse:1" out &&
	test -n "$(ls "$KILN_ROOT/layers")" &&
	kiln prune -a >/dev/null &&
	test -n "$(ls "$KILN_ROOT/layers")" &&
	kiln images >out && test_grep "^<none> " out &&
	test_must_fail kiln rmi $id 2>err &&
	test_grep "image is being used by stopped container" err &&
	kiln run --rm $id true &&
	kiln fsck >out && test_grep consistent out &&
	kiln rm user1 >/dev/null &&
	kiln tag $id busybox:latest &&
	no_containers && check_clean
'

# ---------------------------------------------------------------- rootless
RL_USER=kilnrun
RL_CREATED=
if ! id -u $RL_USER >/dev/null 2>&1 &&
	useradd -M -d "$TRASH/rl-home" -s /bin/sh $RL_USER >/dev/null 2>&1; then
	RL_CREATED=yes
fi
if [ -n "$RL_CREATED" ]; then
	if ! grep -q "^$RL_USER:" /etc/subuid; then
		usermod --add-subuids 400000-465535 --add-subgids 400000-465535 $RL_USER
	fi
	mkdir -p "$TRASH/rl-home" "$TRASH/rl-store" &&
		chown $RL_USER "$TRASH/rl-home" "$TRASH/rl-store"
	command -v newuidmap >/dev/null && grep -q "^$RL_USER:" /etc/subuid &&
		grep -q "^$RL_USER:" /etc/subgid && test_set_prereq SUBUID
	rl_cleanup() {
		userdel $RL_USER >/dev/null 2>&1
		sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid
		test_cleanup_trash
	}
	trap rl_cleanup EXIT
else
	echo "# rootless: cannot create the user $RL_USER (exists already or useradd failed)"
fi
as_user() {
	runuser -u $RL_USER -- env HOME="$TRASH/rl-home" KILN_ROOT="$TRASH/rl-store" \
		TMPDIR="$TRASH/rl-home" "$@"
}

test_expect_success SUBUID 'rootless: a non-root user with subuid ranges runs a container' '
	as_user "$KILN_BIN" import --change "CMD [\"sh\"]" --change "$PATHENV" "$ROOTFS" busybox >/dev/null &&
	as_user "$KILN_BIN" run --rm --network none --hostname rl busybox sh -c "
		id -u; hostname; echo hi >/root/x; cat /root/x; cat /proc/self/uid_map" >out 2>&1 &&
	test "$(sed -n 1p out)" = 0 &&
	test_grep "^rl$" out &&
	test_grep "^hi$" out &&
	test_grep "0 *$(id -u $RL_USER) *1" out &&
	grep -E "^ *1 +[0-9]+ +65536$" out &&
	as_user "$KILN_BIN" run --rm --network none -u user busybox id -u >out &&
	test "$(cat out)" = 1000 &&
	test -z "$(ls -A "$TRASH/rl-store/containers" | grep -v "^lock$")" &&
	! grep -q "$TRASH" /proc/self/mountinfo
'

test_expect_success SUBUID 'rootless: rm removes what the container'"'"'s other users wrote' '
	as_user "$KILN_BIN" run --network none -u 1000 --name rl-keep busybox \
		sh -c "mkdir -p /tmp/d/e && echo x >/tmp/d/f && echo y >/tmp/d/e/g" &&
	test -n "$(ls -A "$TRASH/rl-store/containers" | grep -v "^lock$")" &&
	as_user "$KILN_BIN" rm rl-keep >out &&
	test_grep "^rl-keep$" out &&
	as_user "$KILN_BIN" run --rm --network none -u 1000 busybox \
		sh -c "mkdir /tmp/d2 && echo x >/tmp/d2/f" &&
	test -z "$(ls -A "$TRASH/rl-store/containers" | grep -v "^lock$")" &&
	! grep -q "$TRASH" /proc/self/mountinfo
'

test_done
