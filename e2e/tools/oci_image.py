#!/usr/bin/env python3
"""Writes a one-layer OCI image archive (no registry, no Docker) for the node bed.

    oci_image.py --out FILE.tar --ref NAME:TAG --entrypoint /bin/x [--cmd run] [--user 65532:65532]
                 [--passwd NAME:UID] [--env K=V] [--expose 8080/tcp] [--label K=V]
                 HOST_PATH=IMAGE_PATH ...

The archive is an OCI image layout (oci-layout, index.json, blobs/) in a tar: what `ctr images
import`, `podman load` and `skopeo copy oci-archive:` read. The layer is an uncompressed tar
(diff id = blob digest), entries in argument order with mtime 0, so the same inputs give the same
digests. Files keep their mode; owners are root, except the --passwd user's home directory.
`ctr images import` reads the name from io.containerd.image.name.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile
import time


def add_dirs(tar, path, seen):
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d not in seen:
            seen.add(d)
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)


def add_bytes(tar, path, data, mode, seen):
    add_dirs(tar, path, seen)
    info = tarfile.TarInfo(path.strip("/"))
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    out.append((digest, data))
    return f"sha256:{digest}", len(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--entrypoint", required=True)
    p.add_argument("--cmd", action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--passwd", help="NAME:UID, written to /etc/passwd and /etc/group")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--expose", action="append", default=[], help="PORT/PROTO (ExposedPorts)")
    p.add_argument("--label", action="append", default=[], help="K=V (config Labels)")
    p.add_argument("files", nargs="*")
    a = p.parse_args()

    layer_buf = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for spec in a.files:
            src, dst = spec.split("=", 1)
            with open(src, "rb") as f:
                data = f.read()
            add_bytes(tar, dst, data, os.stat(src).st_mode & 0o777, seen)
        if a.passwd:
            name, uid = a.passwd.split(":")
            add_bytes(tar, "etc/passwd",
                      f"root:x:0:0:root:/root:/sbin/nologin\n{name}:x:{uid}:{uid}:{name}:/home/{name}:/sbin/nologin\n".encode(),
                      0o644, seen)
            add_bytes(tar, "etc/group", f"root:x:0:\n{name}:x:{uid}:\n".encode(), 0o644, seen)
            add_dirs(tar, f"home/{name}/", seen)
            info = tarfile.TarInfo(f"home/{name}")
            info.type = tarfile.DIRTYPE
            info.mode = 0o700
            info.uid = info.gid = int(uid)
            tar.addfile(info)
        # Writable scratch space is a pod concern (emptyDir); /tmp exists for tools that expect it.
        info = tarfile.TarInfo("tmp")
        info.type = tarfile.DIRTYPE
        info.mode = 0o1777
        tar.addfile(info)
    layer = layer_buf.getvalue()

    blobs = []
    layer_digest, layer_size = blob(blobs, layer)
    config = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0)),
        "architecture": "amd64" if os.uname().machine == "x86_64" else "arm64",
        "os": "linux",
        "config": {"Entrypoint": [a.entrypoint], "Cmd": a.cmd or None,
                   "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"] + a.env,
                   **({"User": a.user} if a.user else {}),
                   **({"ExposedPorts": {p: {} for p in a.expose}} if a.expose else {}),
                   **({"Labels": dict(l.split("=", 1) for l in a.label)} if a.label else {})},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_digest, config_size = blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}],
    }
    manifest_digest, manifest_size = blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"io.containerd.image.name": a.ref,
                                       "org.opencontainers.image.ref.name": a.ref.rsplit(":", 1)[-1]}}],
    }
    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w") as out:
        for name, data in [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                           ("index.json", json.dumps(index).encode())] + \
                          [(f"blobs/sha256/{d}", b) for d, b in blobs]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            out.addfile(info, io.BytesIO(data))
    os.replace(tmp, a.out)
    print(manifest_digest)


if __name__ == "__main__":
    main()
