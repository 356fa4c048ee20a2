"""Scraping a controller's /metrics over HTTP and reading the answer, as Prometheus would."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

# The samples a family of each type is exposed as (prometheus-client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: tuple[Sample, ...]
    families: dict[str, str]  # family name -> type

    def value(self, metric: str, /, **labels: str) -> float:
        """The sample with exactly these labels (0 when there is none: a counter not yet seen)."""
        found = [s.value for s in self.samples if s.name == metric and s.labels == labels]
        assert len(found) <= 1, f"{metric}{labels}: {len(found)} samples"
        return found[0] if found else 0.0

    def total(self, metric: str, /, **labels: str) -> float:
        """The sum over every sample of `metric` whose labels include these."""
        return sum(
            s.value
            for s in self.samples
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def series(self, metric: str, /, **labels: str) -> list[Sample]:
        return [
            s
            for s in self.samples
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def names(self) -> set[str]:
        """Every sample name exported, with those of families that have no sample yet (a
        labelled counter nobody incremented) expanded by their type's suffixes."""
        names = {s.name for s in self.samples}
        for family, kind in self.families.items():
            names.update(family + suffix for suffix in SUFFIXES.get(kind, ("",)))
        return names


def scrape(port: int | None) -> Scrape:
    assert port is not None, "the controller serves no metrics"
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    return Scrape(
        text=response.text,
        samples=tuple(s for f in families for s in f.samples),
        families={f.name: f.type for f in families},
    )


def scrape_until(
    port: int | None, check: Callable[[Scrape], bool], *, timeout: float = 10, what: str = ""
) -> Scrape:
    """Scrape until `check` holds (the caches follow the cluster by a watch: a moment late)."""
    deadline = time.monotonic() + timeout
    while True:
        found = scrape(port)
        if check(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
