#!/usr/bin/env python3
"""imgview.py — a canonical, comparable view of a built image.

    imgview.py IMAGE [--ref REF] [--base ROOTFS.tar] [-o OUT.json]
    imgview.py diff EXPECTED.json ACTUAL.json

IMAGE is a docker-archive tar (`docker save`, `kiln save`), an OCI archive,
or an OCI image layout directory (REF picks the index.json entry by its
org.opencontainers.image.ref.name annotation; the only entry otherwise).

The view is JSON with sorted keys:
  config: the fields docker build sets (Env Cmd Entrypoint WorkingDir User
          Labels ExposedPorts Volumes StopSignal Healthcheck OnBuild Shell),
          empty ones left out
  files:  {path: [type, mode, uid, gid, size, content]} of the flattened
          tree, where content is the sha256 of a file, a symlink's target,
          "MAJ:MIN" of a device; hard links show as files.  With --base
          (the base image's rootfs tar), when the image's first layer is
          that base, only paths added, changed or removed ("deleted")
          relative to it.  mtimes are never compared,
          and directories list no size.
`diff` prints the first difference and exits 1, or exits 0.
"""
import hashlib
import io
import json
import os
import sys
import tarfile

CONFIG_KEYS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels",
               "ExposedPorts", "Volumes", "StopSignal", "Healthcheck",
               "OnBuild", "Shell"]


def open_layer(data):
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")


def apply_layer(tree, data):
    """Apply one layer tar (bytes) onto tree {path: entry}, OCI whiteouts."""
    tf = open_layer(data)
    members = tf.getmembers()
    # whiteouts first hide lower content; they only affect lower layers
    for m in members:
        name = "/" + os.path.normpath(m.name).lstrip("./").lstrip("/")
        if name == "/.":
            name = "/"
        base = os.path.basename(name)
        parent = os.path.dirname(name)
        if base == ".wh..wh..opq":
            pre = parent.rstrip("/") + "/"
            for p in [p for p in tree if p.startswith(pre)]:
                del tree[p]
        elif base.startswith(".wh."):
            victim = os.path.join(parent, base[4:])
            for p in [p for p in tree if p == victim or p.startswith(victim + "/")]:
                del tree[p]
    links = {}
    for m in members:
        name = "/" + os.path.normpath(m.name).lstrip("./").lstrip("/")
        if name in ("/.", "/"):
            continue
        if os.path.basename(name).startswith(".wh."):
            continue
        if m.isdir():
            e = ["dir", "%o" % (m.mode & 0o7777), m.uid, m.gid, 0, ""]
        elif m.issym():
            e = ["symlink", "%o" % (m.mode & 0o7777), m.uid, m.gid, 0, m.linkname]
        elif m.islnk():
            target = "/" + os.path.normpath(m.linkname).lstrip("./").lstrip("/")
            t = tree.get(target) or links.get(target)
            e = list(t) if t else ["file", "%o" % (m.mode & 0o7777), m.uid, m.gid, 0, "?"]
        elif m.isreg():
            h = hashlib.sha256(tf.extractfile(m).read()).hexdigest()
            e = ["file", "%o" % (m.mode & 0o7777), m.uid, m.gid, m.size, "sha256:" + h]
        elif m.ischr() or m.isblk():
            e = ["char" if m.ischr() else "block", "%o" % (m.mode & 0o7777),
                 m.uid, m.gid, 0, "%d:%d" % (m.devmajor, m.devminor)]
        elif m.isfifo():
            e = ["fifo", "%o" % (m.mode & 0o7777), m.uid, m.gid, 0, ""]
        else:
            continue
        if e[0] != "dir" and name in tree and tree[name][0] == "dir":
            pre = name + "/"
            for p in [p for p in tree if p.startswith(pre)]:
                del tree[p]
        tree[name] = e
        links[name] = e
    return tree


def load_docker_archive(tf):
    manifest = json.load(tf.extractfile("manifest.json"))[0]
    config = json.load(tf.extractfile(manifest["Config"]))
    layers = [tf.extractfile(l).read() for l in manifest["Layers"]]
    return config, layers


def load_oci(read, ref):
    index = json.loads(read("index.json"))
    descs = index["manifests"]
    if ref:
        def names(d):
            a = d.get("annotations") or {}
            return {a.get("org.opencontainers.image.ref.name"),
                    a.get("io.containerd.image.name")}
        cand = [d for d in descs if ref in names(d)]
        if not cand:
            cand = [d for d in descs if any(n and n.endswith("/" + ref) for n in names(d))]
        descs = cand
    if len(descs) != 1:
        sys.exit("imgview: cannot choose an image in the layout (ref %r)" % ref)
    d = descs[0]
    blob = lambda dg: read("blobs/" + dg.replace(":", "/"))
    m = json.loads(blob(d["digest"]))
    while "manifests" in m:  # an index: take the first linux/amd64 entry
        m = json.loads(blob(m["manifests"][0]["digest"]))
    config = json.loads(blob(m["config"]["digest"]))
    layers = [blob(l["digest"]) for l in m["layers"]]
    return config, layers


def load(path, ref):
    if os.path.isdir(path):
        return load_oci(lambda p: open(os.path.join(path, p), "rb").read(), ref)
    tf = tarfile.open(path)
    names = tf.getnames()
    if "manifest.json" in names:
        return load_docker_archive(tf)
    return load_oci(lambda p: tf.extractfile(p).read(), ref)


def view(path, ref=None, base=None):
    config, layers = load(path, ref)
    tree = {}
    for l in layers:
        apply_layer(tree, l)
    if base:
        btree = apply_layer({}, open(base, "rb").read())
        # Only subtract the base when the image is built on it (its first
        # layer has the base's tree); a FROM scratch image lists everything.
        if not layers or apply_layer({}, layers[0]) != btree:
            btree = {}
        out = {}
        for p, e in tree.items():
            if btree.get(p) != e:
                out[p] = e
        for p in btree:
            if p not in tree:
                out[p] = ["deleted"]
        tree = out
    for e in tree.values():
        if e[0] == "dir":
            e[4] = 0
    cfg = config.get("config") or {}
    c = {k: cfg[k] for k in CONFIG_KEYS if cfg.get(k) not in (None, "", [], {})}
    return {"config": c, "files": tree}


def first_diff(a, b, path=""):
    if type(a) != type(b):
        return "%s: expected %s, got %s" % (path or "/", json.dumps(a), json.dumps(b))
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                return "%s/%s: missing (expected %s)" % (path, k, json.dumps(a[k]))
            if k not in a:
                return "%s/%s: unexpected %s" % (path, k, json.dumps(b[k]))
            d = first_diff(a[k], b[k], path + "/" + k)
            if d:
                return d
        return None
    if a != b:
        return "%s: expected %s, got %s" % (path or "/", json.dumps(a), json.dumps(b))
    return None


def main(argv):
    if argv and argv[0] == "diff":
        a = json.load(open(argv[1]))
        b = json.load(open(argv[2]))
        d = first_diff(a, b)
        if d:
            print(d)
            return 1
        return 0
    ref = base = out = None
    args = []
    it = iter(argv)
    for a in it:
        if a == "--ref":
            ref = next(it)
        elif a == "--base":
            base = next(it)
        elif a == "-o":
            out = next(it)
        else:
            args.append(a)
    if len(args) != 1:
        sys.exit(__doc__)
    v = json.dumps(view(args[0], ref, base), sort_keys=True, indent=1)
    if out:
        open(out, "w").write(v + "\n")
    else:
        print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
