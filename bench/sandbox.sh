#!/bin/bash
# bench/sandbox.sh — startup cost of one sandboxed `true` on a busybox root:
#   kiln native executor (overlay, as a RUN step uses it; and a plain root)
#   kiln oci executor (runc)
#   bare `runc run` of an equivalent bundle (config.json from `runc spec`)
#   `podman run --rm` when podman is installed
# Uses hyperfine when installed, else a date +%s%N loop.  Prints the mean
# of each and its ratio to bare runc.  Run as root from the repository:
#   make out/tests/sandbox-run && bench/sandbox.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-40}
SR=$PWD/${O:-out}/tests/sandbox-run
[ -x "$SR" ] || { echo "build first: make out/tests/sandbox-run" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
command -v runc >/dev/null || { echo "runc not installed" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-sandbox.XXXXXX")
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

# The busybox root, shared by every contender.
BB=$T/bundle/rootfs
mkdir -p "$BB/bin" "$BB/etc" "$BB/tmp" "$BB/proc" "$BB/dev" "$BB/sys"
cp /bin/busybox "$BB/bin/"
for a in $("$BB/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$BB/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$BB/etc/passwd"
printf 'root:x:0:\n' >"$BB/etc/group"

# A bundle equivalent to what kiln runs: runc's default spec (new pid,
# ipc, uts, mount, network namespaces; Docker-like caps, masks), not a
# terminal, running `true`.
runc spec --bundle "$T/bundle"
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's/"sh"$/"true"/' "$T/bundle/config.json"
grep -q '"true"' "$T/bundle/config.json" || { echo "could not edit config.json" >&2; exit 1; }

declare -a names cmds
add() { names+=("$1"); cmds+=("$2"); }
add "runc run (bare)" "runc --root $T/runc-state run --bundle $T/bundle kiln-bench"
add "kiln native, overlay" "$SR --lower $BB --network none -- true"
add "kiln native, plain root" "$SR --rootfs $BB --network none -- true"
add "kiln oci (runc), overlay" "$SR --oci --lower $BB --network none -- true"
if command -v podman >/dev/null; then
	# podman's default rlimits exceed what a host without
	# CAP_SYS_RESOURCE allows: ask for the current ones (nproc is also
	# capped by conmon's own limit, see ../shared/peers/README.md).
	nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
	ul="--ulimit nofile=$(ulimit -Sn):$(ulimit -Hn) --ulimit nproc=$nproc:$nproc"
	tar -C "$BB" -c . | podman import -q - localhost/kiln-bench-busybox >/dev/null
	trap 'podman rmi -f localhost/kiln-bench-busybox >/dev/null 2>&1; rm -rf "$T"' EXIT
	add "podman run --rm" "podman run --rm --network none $ul localhost/kiln-bench-busybox true"
fi

mean_ms() { # CMD -> mean wall time in ms
	if command -v hyperfine >/dev/null; then
		hyperfine -N -w 5 -r "$RUNS" --export-json "$T/h.json" "$1" >/dev/null 2>&1 ||
			{ echo "failed: $1" >&2; return 1; }
		python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$T/h.json"
	else
		local i s e
		for i in 1 2 3 4 5; do $1 >/dev/null; done
		s=$(date +%s%N)
		for i in $(seq "$RUNS"); do $1 >/dev/null; done
		e=$(date +%s%N)
		echo "scale=2; ($e - $s) / $RUNS / 1000000" | bc
	fi
}

echo "# sandbox startup, $RUNS runs each ($(command -v hyperfine >/dev/null && echo hyperfine || echo date loop)), $(nproc) cores, $(uname -r)"
base=
for i in "${!names[@]}"; do
	m=$(mean_ms "${cmds[$i]}")
	[ -z "$base" ] && base=$m
	printf '%-28s %8s ms   %5sx runc\n' "${names[$i]}" "$m" \
		"$(echo "scale=2; $m / $base" | bc)"
done
