"""The size and models sweeps' tools, without a server: server specs, the config a
server is started with, Prometheus text, request order, CPU by process, test frames."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from bench import prometheus
from bench.busy import busy
from bench.launch import REPO, ServerSpec, write_config
from bench.photos import SIZES, make_photo
from bench.processes import TreeCpu, cpu_seconds, listening_pids, role_of
from bench.sweep import interleave


@pytest.mark.parametrize(
    ("text", "label", "config", "checkout", "settings", "fields", "env"),
    [
        ("fused", "fused", "fused", REPO, {}, {}, {}),
        ("base=split@/tmp/old", "base", "split", Path("/tmp/old"), {}, {}, {}),
        (
            "one=fused,MAX_ACTIVE_MODELS=16,model.num_replicas=1,RAY_worker_niceness=0",
            "one", "fused", REPO, {"MAX_ACTIVE_MODELS": "16"}, {"model.num_replicas": 1},
            {"RAY_worker_niceness": "0"},
        ),
    ],
)  # fmt: skip
def test_server_specs(
    text: str,
    label: str,
    config: str,
    checkout: Path,
    settings: dict[str, str],
    fields: dict[str, object],
    env: dict[str, str],
) -> None:
    assert ServerSpec.parse(text) == ServerSpec(label, config, checkout, settings, fields, env)


def test_busy_processes_spin_while_the_block_runs() -> None:
    with busy(2) as pids:
        assert len(pids) == 2
        time.sleep(0.5)
        assert all(cpu_seconds(pid) for pid in pids)  # each has used CPU already
    assert [cpu_seconds(pid) for pid in pids] == [None, None]  # gone, reaped


def test_a_server_is_started_on_its_checkouts_config_with_the_benchmarks_changes(
    tmp_path: Path,
) -> None:
    spec = ServerSpec.parse("x=split,RFSERVE_SCALED_JPEG_DECODE=false,engine.lone_threads=2")
    path = write_config(spec, 12345, ["a/1", "b/1"], tmp_path / "models", tmp_path)
    document = yaml.safe_load(path.read_text())
    original = yaml.safe_load((REPO / "configs/split.yaml").read_text())
    expected_http = {**original["http_options"], "host": "127.0.0.1", "port": 12345}
    assert document["http_options"] == expected_http
    args = document["applications"][0]["args"]
    assert args["composition"] == "split"
    assert args["engine"] == {**original["applications"][0]["args"]["engine"], "lone_threads": 2}
    assert args["settings"] == {
        "PRELOAD_MODELS": "a/1",  # the first only: the rest load on their first request
        "MODEL_CACHE_DIR": str(tmp_path / "cache-x"),
        "RFSERVE_LOCAL_MODELS_DIR": str(tmp_path / "models"),
        "RFSERVE_WEIGHT_SOURCES": "local",
        "RFSERVE_SCALED_JPEG_DECODE": "false",
    }


def test_prometheus_counters_sum_by_tag_and_count_from_zero() -> None:
    before = prometheus.parse(
        '# HELP x\nray_loads_total{replica="a",result="loaded"} 2.0\n'
        'ray_loads_total{replica="a",result="failed"} 1.0\n'
    )
    after = prometheus.parse(
        'ray_loads_total{replica="a",result="loaded"} 5.0\n'
        'ray_loads_total{replica="a",result="failed"} 1.0\n'
        'ray_loads_total{replica="b",result="loaded"} 4.0\n'
        "ray_other 9\n"
    )
    changed = prometheus.delta(before, after, ["ray_loads_total"])
    assert prometheus.total(changed, "ray_loads_total", result="loaded") == {"": 7.0}
    by = prometheus.total(changed, "ray_loads_total", by="replica", result="loaded")
    assert by == {"a": 3.0, "b": 4.0}


@pytest.mark.parametrize("seed", [None, 1])
def test_requests_visit_every_model_once_a_round(seed: int | None) -> None:
    models = [f"m{k}" for k in range(4)]
    pairs = interleave(models, ["i0", "i1", "i2", "i3", "i4", "i5"], seed)
    assert len(pairs) == 12
    for start in range(0, 12, 4):
        assert sorted(m for m, _ in pairs[start : start + 4]) == models
    assert [i for _, i in pairs] == ["i0", "i1", "i2", "i3", "i4", "i5"] * 2
    in_turn = [m for m, _ in pairs] == models * 3
    assert in_turn is (seed is None)


def test_cpu_of_a_process_tree_by_role() -> None:
    meter = TreeCpu(os.getpid())
    meter.start()
    sum(i * i for i in range(2_000_000))  # busy for a moment
    by_role = meter.stop()
    assert by_role[role_of(os.getpid())] > 0
    assert listening_pids(1) == []  # nothing listens on port 1


def test_frames_weigh_what_a_cameras_do() -> None:
    scene, jpeg = make_photo(3_000_000, SIZES["640x480"])
    assert scene.image.shape == (480, 640, 3) and scene.objects
    assert abs(len(jpeg) / 1024 - 95) < 10
    assert make_photo(3_000_000, SIZES["640x480"])[1] == jpeg, "a seed gives one frame"
