#!/bin/sh
# gen.sh — regenerate the hostile-archive cases in this directory.
#
# One data file per case (<case>.tar, <case>.tar.gz) plus <case>.expect,
# read by tests/unit/t-archive-hostile.c.  Expectation lines:
#   ok | error:<substring of the error message>
#   mode: overlay               extract in overlay-lower mode (default apply)
#   setup-dir: P | setup-file: P | setup-symlink: P TARGET
#                               lower-layer content made before extraction;
#                               @OUTSIDE@ in TARGET is the absolute path of
#                               a directory outside the root (with a canary)
#   exists: P | absent: P       lstat inside the root
#   type: P f|d|l|c|b|p         file type (c/b only checked as root)
#   content: P TEXT             exact file content
#   xattr: P NAME VALUE         (checked as root only)
#   host-absent: /ABS           must not exist on the host
# Paths may use \xNN escapes.  Every case also checks that the canaries
# outside the root are untouched and nothing appeared outside the root.
# Needs python3 (stdlib only).
set -eu
cd "$(dirname "$0")"
rm -f ./*.tar ./*.tar.gz ./*.expect
python3 - <<'PY'
import gzip, io, random, tarfile

T0 = 1500000000


def ti(name, type=tarfile.REGTYPE, data=b"", link="", mode=0o644, **kw):
    t = tarfile.TarInfo(name)
    t.type = type
    t.mode = mode
    t.mtime = T0
    t.linkname = link
    t.size = len(data) if type == tarfile.REGTYPE else 0
    for k, v in kw.items():
        setattr(t, k, v)
    return t, data


def F(name, data=b"x\n", **kw):
    return ti(name, data=data, **kw)


def D(name, mode=0o755, **kw):
    return ti(name, tarfile.DIRTYPE, mode=mode, **kw)


def L(name, target):
    return ti(name, tarfile.SYMTYPE, link=target, mode=0o777)


def H(name, target):
    return ti(name, tarfile.LNKTYPE, link=target)


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt,
                      encoding="utf-8", errors="surrogateescape") as tf:
        for t, data in entries:
            tf.addfile(t, io.BytesIO(data) if t.size else None)
    return buf.getvalue()


def gz(b):
    return gzip.compress(b, mtime=0)


def case(name, data, expect, ext=".tar"):
    with open(name + ext, "wb") as f:
        f.write(data)
    with open(name + ".expect", "w", encoding="utf-8",
              errors="surrogateescape") as f:
        f.write(expect.strip() + "\n")


# ---- names that try to leave the root
case("dotdot", tar_bytes([F("../canary", b"pwned\n")]), "error:'..'")
case("dotdot-nested", tar_bytes([D("a/"), F("a/../../canary", b"pwned\n")]),
     "error:'..'")
case("dotdot-dir", tar_bytes([D("../outside/")]), "error:'..'")
case("absolute", tar_bytes([F("/tmp/kiln-hostile-abs", b"abs\n"),
                            F("/abs-top", b"abs\n")]), """
ok
type: tmp/kiln-hostile-abs f
content: abs-top abs\\x0a
host-absent: /tmp/kiln-hostile-abs
host-absent: /abs-top
""")

# ---- symlinks planted by the archive itself
case("symlink-write-relative",
     tar_bytes([L("evil", "../outside"), F("evil/canary", b"pwned\n")]),
     "error:evil")
case("symlink-write-absolute",
     tar_bytes([L("evil", "/"), D("etc/"),
                F("evil/etc/kiln-hostile-pwned", b"pwned\n")]), """
ok
type: evil l
type: etc/kiln-hostile-pwned f
host-absent: /etc/kiln-hostile-pwned
""")
case("symlink-write-final",
     tar_bytes([L("f", "../outside/canary"), F("f", b"replaced\n")]), """
ok
type: f f
content: f replaced\\x0a
""")
case("symlink-root-replaces-parent",
     tar_bytes([D("etc/"), F("etc/a"), L("etc", "/"),
                F("etc/passwd", b"root:x:0:0::/:/bin/sh\n")]), """
ok
type: etc l
type: passwd f
host-absent: /passwd
""")
case("symlink-dotdot-parent",
     tar_bytes([L("up", ".."), L("up2", "up/up/up/.."),
                F("up2/canary", b"pwned\n")]), """
ok
type: canary f
content: canary pwned\\x0a
""")
case("symlink-loop",
     tar_bytes([L("a", "b"), L("b", "a"), F("a/x", b"x\n")]),
     "error:a")

# ---- hardlinks
case("hardlink-dotdot", tar_bytes([H("x", "../canary")]), "error:'..'")
case("hardlink-absolute", tar_bytes([H("x", "/etc/passwd")]),
     "error:not found")
case("hardlink-through-symlink",
     tar_bytes([L("s", "/etc"), H("h", "s/passwd")]), "error:not found")
case("hardlink-to-symlink",
     tar_bytes([L("s", "../outside/canary"), H("h", "s"),
                F("other", b"x\n")]), """
ok
type: h l
type: s l
""")

# ---- whiteouts
case("whiteout-through-symlink",
     tar_bytes([L("link", ".."), F("link/.wh.canary"),
                F("link/.wh.keep")]), """
setup-file: keep
ok
absent: keep
""")
case("whiteout-empty", tar_bytes([F(".wh.")]), "error:invalid whiteout")
case("whiteout-dotdot", tar_bytes([F(".wh..."), F("x")]),
     "error:invalid whiteout")
case("whiteout-lower",
     tar_bytes([F("d/.wh.gone"), F("d/.wh.dir"), F("d/new")]), """
setup-dir: d
setup-file: d/gone
setup-dir: d/dir
setup-file: d/dir/f
setup-file: d/stay
ok
absent: d/gone
absent: d/dir
exists: d/stay
exists: d/new
absent: d/.wh.gone
""")
case("whiteout-same-layer",
     tar_bytes([F("f", b"mine\n"), F(".wh.f")]), """
ok
content: f mine\\x0a
""")
case("opq-root",
     tar_bytes([F(".wh..wh..opq"), F("new")]), """
setup-file: lowerfile
setup-dir: lowerdir
ok
absent: lowerfile
absent: lowerdir
exists: new
absent: .wh..wh..opq
""")
case("opq-file-with-content",
     tar_bytes([D("d/"), F("d/.wh..wh..opq", b"surprise\n" * 100)]), """
setup-dir: d
setup-file: d/lower
ok
type: d d
absent: d/lower
absent: d/.wh..wh..opq
""")
case("opq-nested",
     tar_bytes([D("a/"), D("a/b/"), F("a/b/.wh..wh..opq"), F("a/b/new"),
                D("a/b/sub/"), F("a/b/sub/mine")]), """
setup-dir: a
setup-file: a/keep
setup-dir: a/b
setup-file: a/b/old
setup-dir: a/b/sub
setup-file: a/b/sub/old2
ok
exists: a/keep
absent: a/b/old
absent: a/b/sub/old2
exists: a/b/sub/mine
exists: a/b/new
""")
case("opq-after-children",
     tar_bytes([D("a/"), F("a/new"), F("a/.wh..wh..opq")]), """
setup-dir: a
setup-file: a/old
ok
exists: a/new
absent: a/old
""")
case("opq-missing-dir", tar_bytes([F("nowhere/.wh..wh..opq")]), """
ok
absent: nowhere
""")
case("overlay-whiteouts",
     tar_bytes([D("d/"), F("d/.wh..wh..opq"), F("d/.wh.gone"), F("d/new"),
                F(".wh.top"), F("x/y/.wh..wh..opq")]), """
mode: overlay
ok
type: d/gone c
type: top c
xattr: d trusted.overlay.opaque y
xattr: x/y trusted.overlay.opaque y
exists: d/new
absent: d/.wh..wh..opq
""")
case("overlay-xattr-smuggle",
     tar_bytes([ti("d/", tarfile.DIRTYPE, mode=0o755, pax_headers={
         "SCHILY.xattr.trusted.overlay.redirect": "/etc",
         "SCHILY.xattr.user.overlay.opaque": "y",
         "SCHILY.xattr.user.ok": "fine"})]), """
mode: overlay
ok
type: d d
xattr: d user.ok fine
""")

# ---- duplicates: the later entry wins
case("duplicates",
     tar_bytes([F("f", b"one\n"), F("f", b"two\n"), D("d/"), F("d/inner"),
                F("d", b"now a file\n"), L("s", "/etc"), F("s", b"file\n"),
                F("g"), D("g/")]), """
ok
content: f two\\x0a
type: d f
content: d now a file\\x0a
type: s f
type: g d
""")

# ---- broken compression and tar
good = tar_bytes([D("d/"), F("d/f", random.Random(1).randbytes(16 * 1024)),
                  F("d/g", b"hello\n" * 1000)])
gzd = gz(good)
case("truncated-gzip", gzd[: len(gzd) // 2], "error:truncated", ".tar.gz")
case("truncated-gzip-trailer", gzd[:-4], "error:truncated", ".tar.gz")
bad = bytearray(gzd)
for i in range(200, 260):
    bad[i] ^= 0x5A
case("corrupt-gzip", bytes(bad), "error:corrupt gzip", ".tar.gz")
bad = bytearray(gzd)
bad[-8] ^= 0xFF  # CRC32 of the trailer
case("corrupt-gzip-crc", bytes(bad), "error:corrupt gzip", ".tar.gz")
case("gzip-trailing-garbage", gzd + b"garbage!", "error:corrupt gzip",
     ".tar.gz")
case("truncated-tar", good[:12000], "error:truncated tar")
case("not-a-tar", b"this is not a tar archive\n" * 40, "error:tar")
case("huge-pax",
     gz(tar_bytes([ti("f", pax_headers={"comment": "x" * (3 << 20)})])),
     "error:tar header too large", ".tar.gz")
case("huge-gnu-longname",
     gz(tar_bytes([F("a" * (2 << 20))], fmt=tarfile.GNU_FORMAT)),
     "error:tar header too large", ".tar.gz")
case("long-name", tar_bytes([F("d/" + "b" * 300)]), "error:too long")

# ---- names that are not UTF-8
case("non-utf8",
     tar_bytes([F("caf\udce9", b"latin1\n"), D("dir\udcff/"),
                F("dir\udcff/x")]) +
     b"", """
ok
type: caf\\xe9 f
type: dir\\xff/x f
""")
case("non-utf8-gnu",
     tar_bytes([F("na\udcefve" + "n" * 120, b"x\n")],
               fmt=tarfile.GNU_FORMAT), """
ok
exists: na\\xefve""" + "n" * 120 + """
""")

# ---- lower layers with symlinks pointing outside
case("lower-symlink-outside",
     tar_bytes([F("evil/pwned", b"pwned\n")]), """
setup-symlink: evil @OUTSIDE@
error:evil
""")
case("lower-symlink-root",
     tar_bytes([F("etc/kiln-hostile-pwned", b"pwned\n")]), """
setup-symlink: etc /
ok
type: etc l
type: kiln-hostile-pwned f
host-absent: /kiln-hostile-pwned
""")
case("lower-symlink-final",
     tar_bytes([F("f", b"replaced\n")]), """
setup-symlink: f @OUTSIDE@/canary
ok
type: f f
""")
case("lower-symlink-whiteout",
     tar_bytes([F("evil/.wh.canary"), F("evil/.wh..wh..opq")]), """
setup-symlink: evil @OUTSIDE@
ok
type: evil l
""")
case("lower-symlink-hardlink",
     tar_bytes([H("h", "evil/canary")]), """
setup-symlink: evil @OUTSIDE@
error:not found
""")

# ---- devices
dev = lambda n, t, ma, mi: ti(n, t, mode=0o600, devmajor=ma, devminor=mi)
case("devices",
     tar_bytes([dev("null", tarfile.CHRTYPE, 1, 3),
                dev("sda", tarfile.BLKTYPE, 8, 0),
                ti("fifo", tarfile.FIFOTYPE, mode=0o600),
                F("after")]), """
ok
type: null c
type: sda b
type: fifo p
exists: after
""")
case("setuid",
     tar_bytes([F("su", b"#!/bin/sh\n", mode=0o4755),
                D("sticky/", mode=0o1777)]), """
ok
type: su f
""")
PY
ls | wc -l
