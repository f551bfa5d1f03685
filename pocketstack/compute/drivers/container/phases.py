"""Durations of the steps of an operation, for the log (spawn, plug)."""

from __future__ import annotations

import time


class Phases:
    """Durations of the steps of an operation, for the log (``rootfs 0.001s, ...``)."""

    def __init__(self) -> None:
        self.last = self.start = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.steps.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        return f"{self.last - self.start:.3f}s (" + ", ".join(
            f"{n} {d:.3f}s" for n, d in self.steps) + ")"
