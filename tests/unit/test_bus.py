"""The in-process message bus."""

from __future__ import annotations

import threading

import pytest

from pocketstack.api.context import RequestContext, current
from pocketstack.bus import LocalBus, NoSuchTopic


class Endpoint:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.done = threading.Event()

    def build(self, name: str) -> str:
        ctx = current.get()
        self.seen.append((name, ctx.request_id if ctx else None))
        self.done.set()
        return f"built {name}"

    def explode(self) -> None:
        raise RuntimeError("boom")


def test_call_cast_and_request_id_propagation():
    bus = LocalBus(workers=2)
    endpoint = Endpoint()
    bus.subscribe("compute.host1", endpoint)
    ctx = RequestContext()
    token = current.set(ctx)
    try:
        assert bus.call("compute.host1", "build", name="a") == "built a"
        bus.cast("compute.host1", "build", name="b")
        assert endpoint.done.wait(5)
    finally:
        current.reset(token)
    bus.drain()
    assert ("a", ctx.request_id) in endpoint.seen and ("b", ctx.request_id) in endpoint.seen
    bus.close()


def test_errors():
    bus = LocalBus(workers=1)
    bus.subscribe("t", Endpoint())
    with pytest.raises(NoSuchTopic):
        bus.cast("nobody", "build", name="x")
    with pytest.raises(NoSuchTopic):
        bus.call("t", "_private")
    with pytest.raises(RuntimeError):
        bus.call("t", "explode")
    bus.cast("t", "explode")  # logged, not raised
    bus.drain()
    assert bus.pending() == 0
    bus.close()


def test_notifications_reach_listeners():
    bus = LocalBus(workers=1)
    got = []
    bus.listen(lambda event, payload: got.append((event, payload)))
    bus.listen(lambda event, payload: 1 / 0)  # a broken listener is isolated
    bus.notify("instance.create.end", {"uuid": "x"})
    assert got == [("instance.create.end", {"uuid": "x"})]
    bus.close()
