#!/usr/bin/env python3
"""Builds a single-layer container image around one binary, without Docker, as a docker-archive
tarball that `ctr -n k8s.io images import` and `docker load` accept.

    charts/image.py --binary target/release/toolyard-gateway --path /usr/local/bin/toolyard-gateway \
        --tag ghcr.io/toolyard/toolyard-gateway:0.1.0 --port 8080 --port 9090 \
        --cmd --config --cmd /etc/toolyard --out toolyard-gateway.tar

The layer holds the binary, the shared libraries `ldd` lists for it (glibc and the dynamic loader
for the Rust binaries; nothing for static Go ones) at the paths `ldd` gives, /etc/passwd and
/etc/group with the distroless `nonroot` user (65532), an empty /tmp and, when the host has one,
the CA bundle at /etc/ssl/certs/ca-certificates.crt. That is the layout of the project's
Dockerfiles (distroless cc-debian12:nonroot): same binary path, user, ports and entrypoint.

Reproducible: every tar entry is sorted, owned by 0:0 (files) with mtime 0, and the config has no
timestamps, so the same inputs give the same bytes (and the same image ID) every time.
"""

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


class ImageError(Exception):
    """What went wrong, said so that the caller knows what to fix."""


def shared_libraries(binary):
    """The absolute paths `ldd` resolves for BINARY (libraries and the loader); [] if static."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise ImageError("ldd not found: install libc-bin (it lists the libraries to copy)") from e
    text = out.stdout + out.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return []
    if out.returncode != 0:
        raise ImageError(f"ldd {binary} failed: {text.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        if "not found" in line:
            raise ImageError(f"{binary} needs a library the host lacks: {line.strip()}")
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.append(m.group(1))
    return sorted(set(libs))


def add_dir(tar, path, mode=0o755, uid=0):
    ti = tarfile.TarInfo(path.lstrip("/"))
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = tarfile.DIRTYPE, mode, uid, uid, 0
    tar.addfile(ti)


def add_bytes(tar, path, data, mode=0o644):
    ti = tarfile.TarInfo(path.lstrip("/"))
    ti.size, ti.mode, ti.mtime = len(data), mode, 0
    tar.addfile(ti, io.BytesIO(data))


def layer(files):
    """A layer tar of FILES ({path: (bytes, mode)}), with every parent directory, sorted."""
    dirs = {"/tmp": 0o1777, "/home/nonroot": 0o700}
    for path in files:
        parent = os.path.dirname(path)
        while parent not in ("/", ""):
            dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)
    for d in list(dirs):
        parent = os.path.dirname(d)
        while parent not in ("/", ""):
            dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)
    entries = sorted([(d, None) for d in dirs] + [(f, files[f]) for f in files])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, content in entries:
            if content is None:
                add_dir(tar, path, dirs[path], 65532 if path == "/home/nonroot" else 0)
            else:
                add_bytes(tar, path, content[0], content[1])
    return buf.getvalue()


def build(args):
    if not os.path.isfile(args.binary):
        raise ImageError(f"{args.binary} does not exist: build it first (see charts/images.sh)")
    with open(args.binary, "rb") as f:
        files = {args.path: (f.read(), 0o755)}
    for lib in shared_libraries(args.binary):
        with open(lib, "rb") as f:  # follows symlinks: the image gets the file under the ldd path
            files[lib] = (f.read(), 0o755)
    files["/etc/passwd"] = (PASSWD.encode(), 0o644)
    files["/etc/group"] = (GROUP.encode(), 0o644)
    env = [PATH_ENV]
    if os.path.isfile(CA_BUNDLE):
        with open(CA_BUNDLE, "rb") as f:
            files[CA_BUNDLE] = (f.read(), 0o644)
        env.append(f"SSL_CERT_FILE={CA_BUNDLE}")
    for extra in args.file:
        src, _, dst = extra.partition(":")
        with open(src, "rb") as f:
            files[dst] = (f.read(), 0o755 if os.access(src, os.X_OK) else 0o644)

    layer_tar = layer(files)
    diff_id = hashlib.sha256(layer_tar).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": args.user,
            "Env": env,
            "Entrypoint": [args.path] + args.entrypoint_arg,
            "WorkingDir": "/",
            "Labels": {"org.opencontainers.image.version": args.tag.rsplit(":", 1)[-1]},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created_by": f"charts/image.py {os.path.basename(args.path)}"}],
    }
    if args.cmd:
        config["config"]["Cmd"] = args.cmd
    if args.port:
        config["config"]["ExposedPorts"] = {f"{p}/tcp": {} for p in sorted(set(args.port))}
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": f"{config_id}.json", "RepoTags": [args.tag], "Layers": [f"{diff_id}/layer.tar"]}]
    repo, _, tag = args.tag.rpartition(":")
    outer = {
        f"{config_id}.json": config_bytes,
        f"{diff_id}/layer.tar": layer_tar,
        f"{diff_id}/VERSION": b"1.0",
        "manifest.json": json.dumps(manifest, separators=(",", ":")).encode(),
        "repositories": json.dumps({repo: {tag: diff_id}}, separators=(",", ":")).encode(),
    }
    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.GNU_FORMAT) as tar:
        add_dir(tar, diff_id)
        for name in sorted(outer):
            add_bytes(tar, name, outer[name])
    os.replace(tmp, args.out)
    print(f"{args.out}: {args.tag} image sha256:{config_id}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True, help="the program to put in the image")
    p.add_argument("--path", required=True, help="where it goes in the image, e.g. /usr/local/bin/NAME")
    p.add_argument("--tag", required=True, help="image reference, e.g. ghcr.io/toolyard/toolyard-gateway:0.1.0")
    p.add_argument("--out", required=True, help="the docker-archive tarball to write")
    p.add_argument("--user", default="65532:65532")
    p.add_argument("--port", action="append", type=int, default=[], help="an exposed TCP port (repeat)")
    p.add_argument("--entrypoint-arg", action="append", default=[], help="an argument after the binary in Entrypoint (repeat)")
    p.add_argument("--cmd", action="append", default=[], help="a Cmd argument (repeat)")
    p.add_argument("--file", action="append", default=[], help="SRC:DEST, an extra file (repeat)")
    try:
        build(p.parse_args())
    except (ImageError, OSError) as e:
        print(f"image.py: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
