"""Prometheus metrics: served at ``/metrics`` on every API port.

Request counts and latencies by service, route template and status come from the
request pipeline; services add their own gauges (instances by state, hosts up,
quota usage, queue depths) with :func:`gauge`, evaluated when scraped.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _CallbackGauges(Collector):
    def __init__(self) -> None:
        self.sources: list[tuple[str, str, list[str],
                                 Callable[[], Iterable[tuple[list[str], float]]]]] = []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, doc, labels, fn in self.sources:
            family = GaugeMetricFamily(name, doc, labels=labels)
            for values, value in fn():
                family.add_metric(values, value)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("pocketstack_api_requests", "API requests",
                                ["service", "method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("pocketstack_api_request_seconds", "API request latency",
                                 ["service", "method", "route"], registry=self.registry,
                                 buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25,
                                          .5, 1, 2.5, 5, 10))
        self._gauges = _CallbackGauges()
        self.registry.register(self._gauges)
        # the labelled children by label values: labels() takes a lock and builds its key
        # for every request otherwise (a few hundred routes and statuses at most)
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def observe(self, service: str, method: str, route: str, status: int,
                seconds: float) -> None:
        key = (service, method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(service, method, route, str(status)),
                self.latency.labels(service, method, route))
        children[0].inc()
        children[1].observe(seconds)

    def gauge(self, name: str, doc: str, labels: list[str],
              fn: Callable[[], Iterable[tuple[list[str], float]]]) -> None:
        """Register a gauge computed by ``fn`` at scrape time (rows of label values, value)."""
        self._gauges.sources.append((name, doc, labels, fn))

    def render(self) -> bytes:
        return generate_latest(self.registry)
