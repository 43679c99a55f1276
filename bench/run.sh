#!/bin/bash
# bench/run.sh — container start-up: `kiln run --rm busybox true` against
#
#   - bare `runc run` of a bundle holding the same busybox rootfs (the
#     floor: an OCI runtime with nothing around it), and
#   - `podman run --rm --network=none busybox true` (rootful podman with
#     runc, its image loaded by `podman load` from `kiln save`).
#
# Also `kiln run --rm --network=none` and `--isolation=oci --runtime=runc`
# for reference.  Timed with hyperfine (installed with apt-get when
# missing), warm-up runs first, reported as means and ratios from one run.
# Targets: kiln ≤ 2× bare runc, ≤ 1/5 of podman.
#
# Everything lives in a private work dir (a private kiln store, podman
# --root/--runroot and CONTAINERS_CONF) removed at the end.  Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=$PWD/kiln
RUNS=${KILN_BENCH_RUNS:-30}
[ "$(id -u)" = 0 ] || { echo "bench/run.sh needs root" >&2; exit 1; }
[ -x "$KILN" ] || make -s kiln
command -v runc >/dev/null || { echo "runc is not installed" >&2; exit 1; }
if ! command -v hyperfine >/dev/null; then
	apt-get install -y hyperfine >/dev/null
fi
ROOTFS=$(tests/images/make-rootfs.sh busybox)

W=$(mktemp -d /var/tmp/kiln-bench-run.XXXXXX)
export KILN_ROOT=$W/kiln
cleanup() {
	if command -v podman >/dev/null && [ -d "$W/podman" ]; then
		podman --root "$W/podman" --runroot "$W/podman-run" \
			rmi -af >/dev/null 2>&1 || true
		grep -o "$W/podman[^ ]*" /proc/self/mountinfo | sort -r |
			xargs -r -n1 umount -l 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT

# ---- kiln: the image, layers extracted by a first run
"$KILN" import --change 'CMD ["sh"]' \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$ROOTFS" busybox:latest >/dev/null
"$KILN" run --rm busybox true

# ---- bare runc: a bundle with the extracted rootfs; `runc spec`'s default
# config (new network namespace, no terminal) running `true`
mkdir -p "$W/bundle/rootfs"
tar -xf "$ROOTFS" -C "$W/bundle/rootfs"
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY

cmds=(
	"$KILN run --rm busybox true"
	"runc run --bundle $W/bundle kiln-bench-$$"
)
names=("kiln run --rm" "bare runc run")

# ---- podman: private storage, the lab's containers.conf settings
if command -v podman >/dev/null; then
	cat >"$W/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	export CONTAINERS_CONF=$W/containers.conf
	P="podman --root $W/podman --runroot $W/podman-run"
	"$KILN" save -o "$W/busybox.tar" busybox:latest
	$P load -q -i "$W/busybox.tar" >/dev/null
	$P run --rm --network=none busybox true
	cmds+=("$P run --rm --network=none busybox true")
	names+=("podman run --rm")
else
	echo "# podman is not installed: skipping it" >&2
fi
cmds+=("$KILN run --rm --network=none busybox true"
	"$KILN run --rm --isolation=oci --runtime=runc busybox true")
names+=("kiln run --rm --network=none" "kiln run --rm --isolation=oci")

args=()
for i in "${!cmds[@]}"; do
	args+=(-n "${names[$i]}" "${cmds[$i]}")
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/result.json" \
	--style basic "${args[@]}" >&2

python3 - "$W/result.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
k = r["kiln run --rm"]
print(f"{'command':34} {'mean':>9}")
for name, mean in r.items():
    print(f"{name:34} {mean * 1000:7.1f}ms")
runc = r["bare runc run"]
print(f"kiln / bare runc   = {k / runc:5.2f}x  (target <= 2)")
if "podman run --rm" in r:
    pod = r["podman run --rm"]
    print(f"kiln / podman      = {k / pod:5.2f}x  (target <= 0.20; podman is {pod / k:.1f}x slower)")
PY
