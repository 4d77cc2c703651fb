"""A server's Prometheus counters, read from its ``/metrics`` text, summed by tag.

Ray exports each replica's metrics from the node's endpoint a few seconds after they
are recorded (``metrics_report_interval_ms``, 10 s by default): read them after
:data:`EXPORT_LAG_S` of quiet to see everything a run did.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping

import httpx

EXPORT_LAG_S = 12.0
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, tuple[tuple[str, str], ...]]
"""Metric name and its labels, sorted."""


def parse(text: str) -> dict[Sample, float]:
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        key = (name, tuple(sorted(_LABEL.findall(labels or ""))))
        samples[key] = float(value)
    return samples


def scrape(url: str, settle_s: float = 0.0) -> dict[Sample, float]:
    """The endpoint's samples, after ``settle_s`` for the last ones to be exported."""
    time.sleep(settle_s)
    return parse(httpx.get(url, timeout=10, trust_env=False).text)


def total(
    samples: Mapping[Sample, float], name: str, by: str | None = None, **match: str
) -> dict[str, float]:
    """Sum of ``name``'s samples whose labels include ``match``, per value of label
    ``by`` (one entry, ``""``, without it)."""
    sums: dict[str, float] = {}
    for (sample_name, labels), value in samples.items():
        if sample_name != name:
            continue
        tags = dict(labels)
        if any(tags.get(k) != v for k, v in match.items()):
            continue
        key = tags.get(by, "") if by else ""
        sums[key] = sums.get(key, 0.0) + value
    return sums


def delta(
    before: Mapping[Sample, float], after: Mapping[Sample, float], names: Iterable[str]
) -> dict[Sample, float]:
    """``after`` less ``before`` for the samples of ``names`` (a sample that appeared
    in between counts from zero)."""
    wanted = set(names)
    return {key: value - before.get(key, 0.0) for key, value in after.items() if key[0] in wanted}
