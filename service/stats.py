"""Per-model statistics: the numbers ModelStatistics returns and /metrics exports.

/metrics carries every counter twice: as `striate_*` (Prometheus naming, `_total` suffix) and
under Triton's names (`nv_inference_request_success`, ... without the suffix, as Triton
exports them), so dashboards and autoscalers built for Triton work unchanged. Request latency
also goes into a histogram, `striate_inference_request_latency_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0, 30.0)


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        self.count += count
        self.ns += ns


class Metrics:
    """Prometheus metrics of one server, labelled by model and version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["model", "version"]
        self.success = Counter("striate_inference_request_success",
                               "Successful inference requests", labels, registry=self.registry)
        self.failure = Counter("striate_inference_request_failure",
                               "Failed inference requests, by reason", labels + ["reason"],
                               registry=self.registry)
        self.inferences = Counter("striate_inference_count",
                                  "Inferences performed (a batch of n counts n)", labels,
                                  registry=self.registry)
        self.executions = Counter("striate_inference_exec_count",
                                  "Model executions (one per batch run)", labels,
                                  registry=self.registry)
        self.request_us = Counter("striate_inference_request_duration_us",
                                  "Cumulative end-to-end request time, microseconds", labels,
                                  registry=self.registry)
        self.queue_us = Counter("striate_inference_queue_duration_us",
                                "Cumulative time requests waited in the queue, microseconds",
                                labels, registry=self.registry)
        self.compute_us = Counter("striate_inference_compute_infer_duration_us",
                                  "Cumulative model execution time, microseconds", labels,
                                  registry=self.registry)
        self.pending = Gauge("striate_inference_pending_request_count",
                             "Requests waiting in the queue or running", labels,
                             registry=self.registry)
        self.latency = Histogram("striate_inference_request_latency_seconds",
                                 "End-to-end request time (successful requests), seconds",
                                 labels, buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.registry.register(TritonNames({
            "nv_inference_request_success": self.success,
            "nv_inference_request_failure": self.failure,
            "nv_inference_count": self.inferences,
            "nv_inference_exec_count": self.executions,
            "nv_inference_request_duration_us": self.request_us,
            "nv_inference_queue_duration_us": self.queue_us,
            "nv_inference_compute_infer_duration_us": self.compute_us,
            "nv_inference_pending_request_count": self.pending,
        }))


class TritonNames(Collector):
    """Our metrics again under Triton's names, samples without the `_total` suffix."""

    def __init__(self, sources: dict[str, Counter | Gauge]) -> None:
        self.sources = sources

    def collect(self):
        for name, source in self.sources.items():
            for family in source.collect():
                metric = Metric(name, f"{family.documentation} (Triton's name)", family.type)
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue
                    metric.add_sample(name, sample.labels, sample.value)
                yield metric


@dataclass
class ModelStats:
    """Cumulative statistics of one model version (thread-safe)."""

    name: str
    version: str
    metrics: Metrics
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)
    inference_count: int = 0
    execution_count: int = 0
    last_inference_ms: int = 0
    batches: dict[int, Duration] = field(default_factory=lambda: defaultdict(Duration))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # this version's Prometheus children, looked up once rather than on every request
        metrics, labels = self.metrics, self._labels()
        self._success = metrics.success.labels(**labels)
        self._request_us = metrics.request_us.labels(**labels)
        self._queue_us = metrics.queue_us.labels(**labels)
        self._executions = metrics.executions.labels(**labels)
        self._inferences = metrics.inferences.labels(**labels)
        self._compute_us = metrics.compute_us.labels(**labels)
        self._pending = metrics.pending.labels(**labels)
        self._latency = metrics.latency.labels(**labels)

    def _labels(self, **extra: str):
        return {"model": self.name, "version": self.version, **extra}

    def request_done(self, ns: int, reason: str | None = None) -> None:
        """Record one request's outcome: reason None for success."""
        with self._lock:
            if reason is None:
                self.success.add(ns)
                self.last_inference_ms = int(time.time() * 1000)
                self._success.inc()
                self._request_us.inc(ns / 1000)
                self._latency.observe(ns / 1e9)
            else:
                self.fail.add(ns)
                self.metrics.failure.labels(**self._labels(reason=reason)).inc()

    def queued(self, ns: int) -> None:
        with self._lock:
            self.queue.add(ns)
            self._queue_us.inc(ns / 1000)

    def executed(self, batch_size: int, requests: int, input_ns: int, infer_ns: int,
                 output_ns: int) -> None:
        """Record one model execution that served `requests` requests, `batch_size` items."""
        with self._lock:
            self.execution_count += 1
            self.inference_count += batch_size
            self.compute_input.add(input_ns, requests)
            self.compute_infer.add(infer_ns, requests)
            self.compute_output.add(output_ns, requests)
            self.batches[batch_size].add(infer_ns)
            self._executions.inc()
            self._inferences.inc(batch_size)
            self._compute_us.inc(infer_ns / 1000)

    def pending(self, delta: int) -> None:
        self._pending.inc(delta)
