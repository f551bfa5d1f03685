"""Tempest in a virtualenv of its own, and a Tempest workspace to run it in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

TEMPEST_REQUIREMENT = "tempest==47.0.0"
VENV_ENV = "POCKETSTACK_TEMPEST_VENV"


class TempestUnavailable(RuntimeError):
    """Tempest is not installed and cannot be installed (e.g. there is no network)."""


def default_venv() -> str:
    if os.environ.get(VENV_ENV):
        return os.path.abspath(os.environ[VENV_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "pocketstack", "tempest-venv")


class TempestEnv:
    def __init__(self, venv: str | None = None) -> None:
        self.venv = venv or default_venv()

    def bin(self, name: str) -> str:
        return os.path.join(self.venv, "bin", name)

    @property
    def python(self) -> str:
        return self.bin("python")

    def installed(self) -> bool:
        if not os.path.exists(self.bin("tempest")):
            return False
        proc = subprocess.run([self.python, "-c", "import importlib.metadata as m; "
                               "print(m.version('tempest'))"], capture_output=True, text=True)
        return proc.returncode == 0 and proc.stdout.strip() == TEMPEST_REQUIREMENT.split("==")[1]

    def ensure(self, log: "object" = print, timeout: float = 1800) -> None:
        """Install pinned Tempest into the venv unless it is already there."""
        if self.installed():
            return
        log(f"installing {TEMPEST_REQUIREMENT} into {self.venv} ...")  # type: ignore[operator]
        try:
            if not os.path.exists(self.python):
                subprocess.run([sys.executable, "-m", "venv", self.venv], check=True,
                               capture_output=True, text=True, timeout=300)
            proc = subprocess.run([self.python, "-m", "pip", "install", "-q",
                                   TEMPEST_REQUIREMENT], capture_output=True, text=True,
                                  timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise TempestUnavailable(f"cannot create the Tempest virtualenv: {exc}") from None
        if proc.returncode != 0 or not self.installed():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise TempestUnavailable(f"pip could not install {TEMPEST_REQUIREMENT}:\n{tail}")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.pop("PYTHONPATH", None)
        env["PATH"] = os.path.join(self.venv, "bin") + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = self.venv
        return env

    def init_workspace(self, path: str) -> str:
        """``tempest init`` a fresh workspace at PATH (its registry kept beside it)."""
        path = os.path.abspath(path)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        registry = os.path.join(os.path.dirname(path), "workspace.yaml")
        proc = subprocess.run([self.bin("tempest"), "init", "--workspace-path", registry,
                               "--name", os.path.basename(path) + "-" + str(os.getpid()),
                               path], capture_output=True, text=True, env=self.env())
        if proc.returncode != 0:
            raise RuntimeError(f"tempest init failed:\n{proc.stdout}\n{proc.stderr}")
        return path
