#!/bin/bash
# The sandbox, end to end, through out/tests/sandbox-run on a busybox root
# built here: isolation, masks, exit statuses, signals, users, pty, the
# CVE-2024-21626 shape, rootless.  Every test runs for both executors
# (native and oci via runc) and ends by checking that no mount, no temp
# dir and no process was left behind.
. "$(dirname "$0")/test-lib.sh"

SR=$SRC_DIR/${O:-out}/tests/sandbox-run
[ -x "$SR" ] || test_skip_all "sandbox-run not built (make test-bins)"
test_have_prereq ROOT,USERNS,OVERLAY,BUSYBOX ||
	test_skip_all "needs $test_missing_prereq"

# The rootless tests run as another user: the trash dir must be reachable.
chmod 755 "$TRASH"
export TMPDIR=$TRASH/tmp
mkdir -p "$TMPDIR"

# make_rootfs DIR: busybox-static with its applets as relative symlinks,
# root and `user` (1000, also in group `extra` 2000).
make_rootfs() {
	mkdir -p "$1/bin" "$1/etc" "$1/tmp" "$1/root" &&
	cp /bin/busybox "$1/bin/busybox" &&
	for a in $("$1/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$1/bin/$a" || return 1
	done &&
	chmod 1777 "$1/tmp" &&
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$1/etc/passwd" &&
	printf 'root:x:0:\nuser:x:1000:\nextra:x:2000:user\n' >"$1/etc/group"
}
BB=$TRASH/bb
make_rootfs "$BB" || test_skip_all "cannot build the busybox root"
# A second layer on top, to exercise several lower dirs.
BB2=$TRASH/bb2
mkdir -p "$BB2/etc" && echo layer2 >"$BB2/etc/layer2"

# Processes in a PID namespace other than ours (containers) before we start.
ns_procs() {
	local me
	me=$(readlink /proc/self/ns/pid)
	ls -l /proc/[0-9]*/ns/pid 2>/dev/null | grep -v -c -F "$me"
}
BASE_PROCS=$(ns_procs)
command -v script >/dev/null && test_set_prereq SCRIPT

check_clean() {
	if grep -q "$TRASH" /proc/self/mountinfo; then
		echo "mounts left behind:"; grep "$TRASH" /proc/self/mountinfo
		return 1
	fi
	if [ -n "$(ls -A "$TMPDIR")" ]; then
		echo "temp dirs left behind: $(ls -A "$TMPDIR")"
		return 1
	fi
	local n i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		n=$(ns_procs)
		# fewer is fine: other containers on the host come and go
		[ "$n" -le "$BASE_PROCS" ] && return 0
		sleep 0.1
	done
	echo "processes left behind: $n (was $BASE_PROCS)"
	return 1
}

# (Background jobs call "$SR" directly: $! must be sandbox-run itself.)
# sb_test [PREREQ] DESC BODY: a test for each executor; $X holds the
# executor flag, $EX its name.
sb_test() {
	local prereq=
	[ $# = 3 ] && { prereq=$1; shift; }
	local ex
	for ex in native oci; do
		local p=$prereq
		[ $ex = oci ] && p=${p:+$p,}RUNC
		X= EX=$ex
		[ $ex = oci ] && X=--oci
		export X EX
		test_expect_success ${p:+"$p"} "$ex: $1" "$2
		check_clean"
	done
}
sr() { "$SR" $X "$@"; }
export SR BB BB2

sb_test 'the command is PID 1 and host processes are invisible' '
	sleep 30 & host_pid=$!
	sr --lower "$BB" -- sh -c "echo \$\$; ls /proc | grep -c \"^[0-9]\"; test -e /proc/$host_pid && echo visible" >out
	rc=$?; kill $host_pid; wait $host_pid 2>/dev/null
	test $rc = 0 &&
	test "$(sed -n 1p out)" = 1 &&
	test "$(sed -n 2p out)" -le 3 &&
	! grep visible out
'

sb_test 'the hostname is the container'"'"'s' '
	sr --lower "$BB" --hostname kiln-box -- hostname >out &&
	echo kiln-box >expect && test_cmp expect out &&
	test "$(hostname)" != kiln-box
'

sb_test 'mount fails without CAP_SYS_ADMIN' '
	test_must_fail sr --lower "$BB" -- sh -c "mkdir -p /mnt && mount -t tmpfs none /mnt" 2>err &&
	sr --lower "$BB" -- sh -c "grep ^CapEff /proc/self/status" >out &&
	test_grep "00000000a80425fb" out
'

sb_test 'masked paths are empty, /proc/sys is read-only' '
	n=0
	for p in /proc/kcore /proc/keys /proc/timer_list; do
		[ -e $p ] || continue
		n=$((n + 1))
		sr --lower "$BB" -- wc -c $p >out &&
		test "$(cut -d" " -f1 out)" = 0 || return 1
	done &&
	test $n -gt 0 &&
	sr --lower "$BB" -- sh -c "ls -A /sys/firmware | wc -l" >out &&
	test "$(cat out)" = 0 &&
	sr --lower "$BB" -- cat /proc/sys/kernel/ostype >out &&
	test_grep Linux out &&
	test_must_fail sr --lower "$BB" -- sh -c "echo kiln >/proc/sys/kernel/domainname" 2>err &&
	test_grep "Read-only file system" err
'

sb_test 'network=none shows only lo, up' '
	sr --lower "$BB" --network none -- sh -c "ls /sys/class/net; ip -o link" >out &&
	test "$(sed -n 1p out)" = lo &&
	test "$(grep -c ": " out)" = 1 &&
	test_grep "lo: <LOOPBACK,UP" out &&
	sr --lower "$BB" -- ls /sys/class/net >out &&
	test "$(wc -l <out)" -gt 1
'

sb_test 'writes go to the upper dir only' '
	sum=$(cat "$BB/etc/passwd" | md5sum) &&
	sr --lower "$BB" --lower "$BB2" --keep-upper "$TRASH/up-$EX" -- sh -c "
		cat /etc/layer2 && echo new >/newfile && echo x >>/etc/passwd &&
		rm /bin/vi" >out &&
	test_grep layer2 out &&
	test ! -e "$BB/newfile" && test ! -e /newfile &&
	test "$(cat "$BB/etc/passwd" | md5sum)" = "$sum" &&
	test -e "$BB/bin/vi" &&
	test "$(cat "$TRASH/up-$EX/newfile")" = new &&
	test -c "$TRASH/up-$EX/bin/vi" &&
	rm -rf "$TRASH/up-$EX"
'

sb_test 'exit statuses: 0, 1, 42, SIGKILL' '
	sr --lower "$BB" -- true &&
	test_must_fail 1 sr --lower "$BB" -- false &&
	test_must_fail 42 sr --lower "$BB" -- sh -c "exit 42" &&
	{ sr --lower "$BB" -- sh -c "kill -9 \$\$"; rc=$?; } &&
	test $rc = 137
'

sb_test 'SIGTERM and SIGINT reach a trapping PID 1' '
	for sig in TERM INT; do
		"$SR" $X --lower "$BB" -- sh -c "trap \"echo got $sig; exit 3\" $sig; echo ready; while :; do sleep 0.05; done" >out &
		pid=$!
		wait_for out ready || return 1
		kill -$sig $pid
		wait $pid; rc=$?
		test $rc = 3 && test_grep "got $sig" out || return 1
	done
'

sb_test 'with --init, SIGINT stops a sleep' '
	"$SR" $X --lower "$BB" --init -- sh -c "echo ready; exec sleep 60" >out &
	pid=$!
	wait_for out ready &&
	sleep 0.2 &&
	start=$SECONDS &&
	kill -INT $pid &&
	{ wait $pid; rc=$?; } &&
	test $rc = 130 &&
	test $((SECONDS - start)) -lt 10
'

sb_test 'PID 1 exiting ends the whole namespace' '
	start=$SECONDS &&
	sr --lower "$BB" -- sh -c "sleep 300 & sleep 300 & echo started" >out &&
	test_grep started out &&
	test $((SECONDS - start)) -lt 10
'

sb_test 'stdin is passed with -i only' '
	echo piped-in | sr --lower "$BB" -i -- cat >out &&
	test_grep piped-in out &&
	echo piped-in | sr --lower "$BB" -- cat >out &&
	test ! -s out
'

sb_test 'a :ro bind mount is read-only, a rw one writable' '
	mkdir -p "$TRASH/data-$EX" && echo hello >"$TRASH/data-$EX/f" &&
	sr --lower "$BB" --bind "$TRASH/data-$EX:/data:ro" -- cat /data/f >out &&
	test_grep hello out &&
	test_must_fail sr --lower "$BB" --bind "$TRASH/data-$EX:/data:ro" -- sh -c "echo x >/data/g" 2>err &&
	test_grep "Read-only file system" err &&
	test ! -e "$TRASH/data-$EX/g" &&
	sr --lower "$BB" --bind "$TRASH/data-$EX:/data" -- sh -c "echo x >/data/g" &&
	test -e "$TRASH/data-$EX/g"
'

sb_test 'USER by name, with supplementary groups' '
	sr --lower "$BB" -u user -- sh -c "id -u; id -g; id -G; grep ^CapEff /proc/self/status" >out &&
	test "$(sed -n 1p out)" = 1000 &&
	test "$(sed -n 2p out)" = 1000 &&
	test_grep "^1000 2000$" out &&
	test_grep "0000000000000000" out &&
	sr --lower "$BB" -u 1234:5678 -- sh -c "id -u; id -g" >out &&
	printf "1234\n5678\n" >expect && test_cmp expect out &&
	test_must_fail 125 sr --lower "$BB" -u nobody-here -- true 2>err &&
	test_grep "unable to find user nobody-here: no matching entries in passwd file" err
'

sb_test 'the working directory is created inside the root' '
	sr --lower "$BB" -w /work/dir --keep-upper "$TRASH/up-$EX" -- pwd >out &&
	echo /work/dir >expect && test_cmp expect out &&
	test -d "$TRASH/up-$EX/work/dir" && rm -rf "$TRASH/up-$EX"
'

sb_test 'generated files are bound in without leaving traces' '
	sr --lower "$BB" --file "/etc/hosts=127.0.0.1 kiln" --file "/etc/resolv.conf=nameserver 192.0.2.1" \
		--bind "$BB/etc:/mnt/deep/etc:ro" --created "$TRASH/created" \
		--keep-upper "$TRASH/up-$EX" -- sh -c "cat /etc/hosts /etc/resolv.conf; ls /mnt/deep/etc" >out &&
	test_grep "127.0.0.1 kiln" out && test_grep "nameserver 192.0.2.1" out &&
	test_grep passwd out &&
	test ! -e "$TRASH/up-$EX/etc/hosts" &&
	test ! -e "$TRASH/up-$EX/etc/resolv.conf" &&
	test ! -e "$TRASH/up-$EX/mnt" &&
	test ! -e "$TRASH/up-$EX/proc" &&
	test ! -s "$TRASH/created" &&
	rm -rf "$TRASH/up-$EX"
'

sb_test 'a directory the command wrote into stays in the upper dir' '
	sr --lower "$BB" --bind "$BB/etc:/opt/x/etc:ro" --created "$TRASH/created" \
		--keep-upper "$TRASH/up-$EX" -- sh -c "echo y >/opt/file" &&
	test -e "$TRASH/up-$EX/opt/file" &&
	test ! -e "$TRASH/up-$EX/opt/x" &&
	echo opt >expect && test_cmp expect "$TRASH/created" &&
	rm -rf "$TRASH/up-$EX"
'

sb_test 'a plain rootfs gets its mount targets removed again' '
	cp -a "$BB" "$TRASH/plain-$EX" &&
	sr --rootfs "$TRASH/plain-$EX" --file "/etc/hosts=x" -- cat /etc/hosts >out &&
	test_grep x out &&
	test ! -e "$TRASH/plain-$EX/etc/hosts" &&
	test ! -e "$TRASH/plain-$EX/proc" &&
	rm -rf "$TRASH/plain-$EX"
'

sb_test 'a read-only root' '
	test_must_fail sr --lower "$BB" --ro -- touch /x 2>err &&
	test_grep "Read-only file system" err &&
	sr --lower "$BB" --ro -- sh -c "echo ok >/dev/shm/x && cat /dev/shm/x"
'

sb_test SCRIPT 'the pty works under script' '
	script -qec "$SR $X -t --lower $BB -- sh -c \"tty; test -t 0 && test -t 1 && echo IS-A-TTY; stty size\"" /dev/null >out </dev/null &&
	test_grep "^/dev/pts/[0-9]" out &&
	test_grep IS-A-TTY out &&
	sr --lower "$BB" -- sh -c "test -t 0 || echo NOT-A-TTY" </dev/null >out &&
	test_grep NOT-A-TTY out &&
	script -qec "$SR $X -t --init --lower $BB -- sh -c \"tty; echo INIT-OK\"" /dev/null >out </dev/null &&
	test_grep INIT-OK out
'

sb_test 'the CVE-2024-21626 shape cannot reach the host' '
	mkdir -p "$TRASH/host-$EX" &&
	sr --leak-fd 7:"$TRASH/host-$EX" --lower "$BB" -- ls /proc/self/fd >out &&
	! grep -x 7 out &&
	for n in 7 8; do
		sr --leak-fd 7:"$TRASH/host-$EX" --lower "$BB" -w /proc/self/fd/$n -- sh -c "pwd; touch escaped; touch ../../escaped2" >out 2>&1
		test ! -e "$TRASH/host-$EX/escaped" &&
		test ! -e "$TRASH/escaped2" || return 1
	done
'

sb_test 'exec of a missing command: 127, not executable: 126' '
	test_must_fail 127 sr --lower "$BB" -- no-such-command 2>err &&
	test_grep "executable file not found" err &&
	test_must_fail 127 sr --lower "$BB" -- /no/such/path 2>err &&
	test_must_fail 126 sr --lower "$BB" -- /etc/passwd 2>err
'

test_expect_success RUNC 'a missing OCI runtime is named' '
	test_must_fail 125 "$SR" --runtime kiln-no-such-runtime --lower "$BB" -- true 2>err &&
	test_grep "runtime \"kiln-no-such-runtime\" not found in \$PATH" err &&
	check_clean
'

# ---------------------------------------------------------------- rootless
RL_USER=kilntest
if id -u $RL_USER >/dev/null 2>&1 ||
	useradd -m -s /bin/sh $RL_USER >/dev/null 2>&1; then
	if ! grep -q "^$RL_USER:" /etc/subuid; then
		usermod --add-subuids 300000-365535 --add-subgids 300000-365535 $RL_USER
	fi
	command -v newuidmap >/dev/null && grep -q "^$RL_USER:" /etc/subuid &&
		grep -q "^$RL_USER:" /etc/subgid && test_set_prereq SUBUID
fi
as_user() { runuser -u $RL_USER -- env TMPDIR="$TRASH/rl-tmp" "$@"; }
if test_have_prereq SUBUID; then
	mkdir -p "$TRASH/rl-tmp" "$TRASH/rl-bb" &&
		chown $RL_USER "$TRASH/rl-tmp" "$TRASH/rl-bb"
	# The user's own image root: files it owns are root inside the userns.
	as_user bash -c "$(declare -f make_rootfs); make_rootfs '$TRASH/rl-bb'" ||
		echo "# warning: could not build the rootless root"
fi
check_clean_rl() {
	[ -z "$(ls -A "$TRASH/rl-tmp")" ] || { echo "left: $(ls -A "$TRASH/rl-tmp")"; return 1; }
	check_clean
}

sb_test SUBUID 'rootless: a run as a non-root user with subuid ranges' '
	as_user "$SR" $X --lower "$TRASH/rl-bb" --network none --hostname rl -- sh -c "
		id -u; hostname; echo hi >/root/x; cat /root/x; cat /proc/self/uid_map
		rm -r /etc && echo removed-lower-dir" >out 2>&1 &&
	test "$(sed -n 1p out)" = 0 &&
	test_grep "^rl$" out &&
	test_grep "^hi$" out &&
	test_grep "removed-lower-dir" out &&
	test_grep "0 *$(id -u $RL_USER) *1" out &&
	test_grep "1 *[0-9][0-9]* *65536" out &&
	as_user "$SR" $X --lower "$TRASH/rl-bb" -u user -- id -u >out &&
	test "$(cat out)" = 1000 &&
	test -e "$TRASH/rl-bb/etc/passwd" &&
	check_clean_rl
'

test_expect_success SUBUID 'rootless: ids outside the ranges are named' '
	test_must_fail 125 as_user "$SR" --lower "$TRASH/rl-bb" -u 99999999 -- true 2>err &&
	test_grep "uid 99999999 is not mapped: user .$RL_USER. has ids 1-65536" err &&
	check_clean_rl
'

test_done
