"""Images with container_format ``docker``: a ``docker save`` archive unpacked into a rootfs.

The archive holds ``manifest.json`` (``[{"Config": ..., "Layers": [...]}]``), the
image's config JSON and one tarball per layer (plain or gzip'd); an OCI image layout
(``index.json`` -> manifest blob -> config and layer blobs) is read the same way when
there is no ``manifest.json``. The layers are applied in order with the overlay
whiteouts of the image spec: ``dir/.wh.NAME`` removes ``NAME`` of the lower layers,
``dir/.wh..wh..opq`` empties ``dir`` before this layer's own entries. No Docker daemon.

As with Nova's docker driver, the image's command is the workload: ``Entrypoint`` +
``Cmd`` run as the instance's PID 1 with the image's ``Env`` and ``WorkingDir``
(:func:`runtime`); when the command exits the instance is shut off. Its interfaces get
their ports' addresses from outside (:mod:`.staticnet`): nothing in it asks DHCP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from typing import Any

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DockerImageError(ValueError):
    pass


def _inside(base: str, *parts: str) -> str:
    """``base/parts`` for a path from an archive, refused when it leaves ``base``
    (``..``, absolute, or through a symlink pointing out)."""
    rel = os.path.normpath(os.path.join(*parts).lstrip("/"))
    if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
        raise DockerImageError(f"path {os.path.join(*parts)!r} leaves the image")
    path = os.path.join(base, rel)
    real_base = os.path.realpath(base)
    parent = os.path.realpath(os.path.dirname(path))
    if parent != real_base and not parent.startswith(real_base + os.sep):
        raise DockerImageError(f"path {rel!r} goes through a link out of the image")
    return path


def _read_json(root: str, name: str) -> Any:
    try:
        with open(_inside(root, name)) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise DockerImageError(f"{name}: {exc}") from None


def _blob(digest: str) -> str:
    algo, _, value = str(digest).partition(":")
    if not value or "/" in value or "/" in algo:
        raise DockerImageError(f"bad digest {digest!r}")
    return os.path.join("blobs", algo, value)


def read_layout(root: str) -> tuple[dict[str, Any], list[str]]:
    """(image config, layer paths in order) of an unpacked archive."""
    if os.path.exists(os.path.join(root, "manifest.json")):
        manifest = _read_json(root, "manifest.json")
        if not isinstance(manifest, list) or not manifest or \
                not isinstance(manifest[0], dict):
            raise DockerImageError("manifest.json lists no image")
        entry = manifest[0]
        config = _read_json(root, str(entry.get("Config") or ""))
        layers = [str(p) for p in entry.get("Layers") or []]
    elif os.path.exists(os.path.join(root, "index.json")):
        index = _read_json(root, "index.json")
        manifests = index.get("manifests") or []
        if not manifests:
            raise DockerImageError("index.json lists no manifest")
        manifest = _read_json(root, _blob(manifests[0].get("digest", "")))
        if "manifests" in manifest:  # an index of platforms: the first
            manifest = _read_json(root, _blob(manifest["manifests"][0].get("digest", "")))
        config = _read_json(root, _blob((manifest.get("config") or {}).get("digest", "")))
        layers = [_blob(layer.get("digest", "")) for layer in manifest.get("layers") or []]
    else:
        raise DockerImageError("neither manifest.json (docker save) nor index.json (OCI)")
    if not isinstance(config, dict):
        raise DockerImageError("the image config is not an object")
    for layer in layers:
        if not os.path.isfile(_inside(root, layer)):
            raise DockerImageError(f"layer {layer} is missing from the archive")
    return config, layers


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def apply_layer(layer: str, dest: str) -> None:
    """Apply one layer tarball onto ``dest``: its whiteouts first, then its files."""
    try:
        with tarfile.open(layer, "r:*") as tar:
            names = [m.name for m in tar.getmembers()]
    except (tarfile.TarError, OSError) as exc:
        raise DockerImageError(f"layer {os.path.basename(layer)}: {exc}") from None
    for name in names:
        parent, base = os.path.split(os.path.normpath(name.lstrip("/")))
        if base == OPAQUE:
            target = _inside(dest, parent or ".")
            if os.path.isdir(target) and not os.path.islink(target):
                for child in os.listdir(target):
                    _remove(os.path.join(target, child))
        elif base.startswith(WHITEOUT):
            _remove(_inside(dest, parent or ".", base[len(WHITEOUT):]))
    proc = subprocess.run(["tar", "--numeric-owner", "-xpf", layer, "-C", dest,
                           "--exclude=" + WHITEOUT + "*"],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise DockerImageError(f"layer {os.path.basename(layer)}: {proc.stderr[-400:]}")


def unpack(archive: str, dest: str, scratch: str) -> dict[str, Any]:
    """Unpack the archive's layers into ``dest`` (which exists); returns :func:`runtime`."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DockerImageError(f"not a docker save archive: {exc}") from None
        config, layers = read_layout(scratch)
        for layer in layers:
            apply_layer(_inside(scratch, layer), dest)
        return runtime(config, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _which(root: str, command: str, path_var: str) -> str | None:
    if "/" in command:
        return command
    for d in path_var.split(":"):
        if d.startswith("/") and os.path.lexists(os.path.join(root, d.lstrip("/"), command)):
            return os.path.join(d, command)
    return None


def runtime(config: dict[str, Any], root: str) -> dict[str, Any]:
    """What runs as the instance's PID 1: ``{"init": argv, "env": {...}, "workdir": ...}``
    from the image config's Entrypoint, Cmd, Env and WorkingDir."""
    cfg = config.get("config") or config.get("container_config") or {}
    argv = [str(a) for a in (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])]
    if not argv:
        raise DockerImageError("the image config has no Entrypoint or Cmd to run")
    env: dict[str, str] = {}
    for item in cfg.get("Env") or []:
        key, sep, value = str(item).partition("=")
        if sep and key:
            env[key] = value
    env.setdefault("PATH", DEFAULT_PATH)
    exe = _which(root, argv[0], env["PATH"])
    if exe is None:
        raise DockerImageError(f"the image's command {argv[0]!r} is not in its PATH")
    workdir = str(cfg.get("WorkingDir") or "/")
    return {"init": [exe] + argv[1:], "env": env,
            "workdir": workdir if workdir.startswith("/") else "/" + workdir,
            "network": "static"}  # no DHCP client: addresses set from outside
