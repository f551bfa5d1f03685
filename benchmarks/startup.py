"""Cold start (new data dir) and warm start (existing data dir) of `pocketstack up` to ready.

Peer: real OpenStack's services took 29.5 s to start on this kind of machine (22 s without
MariaDB and RabbitMQ), per ../shared/peers/openstack/README.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from _cloud import CloudHandle

RUNS = 5


def timed_start(data_dir: str) -> float:
    handle = CloudHandle(data_dir)
    t0 = time.monotonic()
    handle.start()
    elapsed = time.monotonic() - t0
    handle.stop()
    return elapsed


def main() -> None:
    cold, warm = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            cold.append(timed_start(f"{tmp}/data"))
            warm.append(timed_start(f"{tmp}/data"))
    print(f"cold start to ready (new data dir):  median {statistics.median(cold):.2f} s  "
          f"min {min(cold):.2f} s  ({RUNS} runs, process spawn included)")
    print(f"warm start to ready (same data dir): median {statistics.median(warm):.2f} s  "
          f"min {min(warm):.2f} s")
    print("peer (real OpenStack, same machine kind): cold start 29.5 s")


if __name__ == "__main__":
    main()
