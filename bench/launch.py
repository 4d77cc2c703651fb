"""Our server, started as a user starts it, from any checkout of the project.

Each server runs ``python -m serve_app.launch.cli start CONFIG`` (``rfserve start``,
the README's start) in its own process, with that checkout on ``PYTHONPATH``, so one
benchmark run can load today's code and an older commit's side by side; nothing here
imports ``serve_app``. The config is the checkout's own YAML with the benchmark's
changes: a free port on 127.0.0.1, the models from a local folder, a private model
cache, and whatever settings or fields the server spec names.

A spec reads ``[LABEL=]COMPOSITION[@CHECKOUT][,NAME=VALUE...]``: ``fused``,
``base-split=split@../old-checkout``, ``fused-exact=fused,RFSERVE_SCALED_JPEG_DECODE=false``,
``fused1=fused,model.num_replicas=1``, ``nice0=fused,RAY_worker_niceness=0``.
COMPOSITION is ``split``, ``fused`` or a YAML path inside the checkout; a NAME with a
dot sets that field of the application's ``args`` (YAML values), a NAME that starts
with ``RAY_`` is set in the server's environment (Ray's own settings, read when Ray
starts), any other NAME a server setting (its environment name).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.processes import descendants, listening_pids

REPO = Path(__file__).resolve().parent.parent
IMPORT_PATH = "serve_app.app:build_app"
# Each layout's YAML: the first of these a checkout has. `configs/local.yaml` is the
# README's start (fused); a checkout from before that (`split@../baseline`) has the
# split graph there and the fused one in `configs/fused.yaml`.
CONFIGS = {
    "split": ("configs/split.yaml", "configs/local.yaml"),
    "fused": ("configs/fused.yaml", "configs/local.yaml"),
}
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0
# Settings the benchmark sets, by field name and environment name: a YAML may use either.
_SETTING_FIELDS = {
    "MODEL_CACHE_DIR": "model_cache_dir",
    "PRELOAD_MODELS": "preload_models",
    "RFSERVE_LOCAL_MODELS_DIR": "local_models_dir",
    "RFSERVE_WEIGHT_SOURCES": "weight_sources",
}


@dataclass(frozen=True)
class ServerSpec:
    label: str
    config: str
    """``split``, ``fused``, or a YAML path relative to the checkout."""
    checkout: Path = REPO
    settings: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    """Dotted paths into the application's ``args``, and their values."""
    env: dict[str, str] = field(default_factory=dict)
    """Ray's variables, for the server's environment."""

    @classmethod
    def parse(cls, text: str) -> ServerSpec:
        head, *assignments = text.split(",")
        label, _, head = head.rpartition("=")
        config, _, checkout = head.partition("@")
        settings, fields, env = {}, {}, {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"{text!r}: {item!r} is not NAME=VALUE")
            if "." in name:
                fields[name] = yaml.safe_load(value)
            elif name.startswith("RAY_"):
                env[name] = value
            else:
                settings[name] = value
        checkout_path = Path(checkout).resolve() if checkout else REPO
        return cls(label or config, config, checkout_path, settings, fields, env)

    @property
    def config_path(self) -> Path:
        candidates = CONFIGS.get(self.config, (self.config,))
        found = [self.checkout / name for name in candidates if (self.checkout / name).exists()]
        return found[0] if found else self.checkout / candidates[0]

    @property
    def composition(self) -> str:
        """The YAML's ``composition``: what the server's graph is, whatever its label."""
        return str(_app_args(yaml.safe_load(self.config_path.read_text())).get("composition"))


@dataclass(frozen=True)
class Launched:
    url: str
    pid: int
    """The ``rfserve start`` process: every server process descends from it."""
    metrics_url: str
    """The node's Prometheus endpoint."""
    log: Path


def free_port(first: int = 10_000, last: int = 19_999) -> int:
    """A port in ``first..last`` free now.

    The range lies below the kernel's ephemeral one (a port the kernel hands out could
    be given to another process before a server that starts later binds it); the
    benchmark's default lies below the test suite's (20 000 up).
    """
    while True:
        port = random.randint(first, last)  # noqa: S311 - not a secret
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # noqa: S104 - probing, HAProxy binds all
            except OSError:
                continue
        return port


def own_ports(stats_port: int) -> dict[str, str]:
    """Ports of a server's own for everything Serve otherwise takes from fixed defaults,
    so that it shares none with another Serve instance on the machine (a test suite's,
    another run's). Serve's HTTP servers bind with SO_REUSEPORT, so a shared port
    splits the connections between two instances: HAProxy's fallback to Serve's proxy
    (8500, used until HAProxy has seen the replicas healthy) would answer from the
    other instance's applications, and the ingress replicas' own servers (HAProxy's
    backends, numbered from 30000 on every instance) likewise."""
    start = random.randrange(10_000, 19_000, 100)  # noqa: S311 - not a secret
    return {
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(stats_port),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(free_port()),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(start),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(start + 50),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(start + 50),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(start + 100),
    }


def write_config(
    spec: ServerSpec, port: int, models: Sequence[str], models_dir: Path | None, workdir: Path
) -> Path:
    """The spec's YAML with the benchmark's changes, written into ``workdir``."""
    document = yaml.safe_load(spec.config_path.read_text())
    document["http_options"] = {**document.get("http_options", {}), "host": "127.0.0.1"}
    document["http_options"]["port"] = port
    args = _app_args(document)
    settings: dict[str, Any] = dict(args.get("settings") or {})
    # The first model only: /readiness waits for it; the rest load on the first request.
    ours = {"MODEL_CACHE_DIR": str(workdir / f"cache-{spec.label}"), "PRELOAD_MODELS": models[0]}
    if models_dir is not None:
        ours |= {"RFSERVE_LOCAL_MODELS_DIR": str(models_dir), "RFSERVE_WEIGHT_SOURCES": "local"}
    for name, value in {**ours, **spec.settings}.items():
        settings.pop(_SETTING_FIELDS.get(name, ""), None)
        settings[name] = value
    args["settings"] = settings
    for path, value in spec.fields.items():
        *parents, leaf = path.split(".")
        node = args
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    out = workdir / f"{spec.label}.yaml"
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def _app_args(document: dict[str, Any]) -> dict[str, Any]:
    for application in document.get("applications", []):
        if application.get("import_path") == IMPORT_PATH:
            args: dict[str, Any] = application.setdefault("args", {})
            return args
    raise ValueError(f"no application with import_path {IMPORT_PATH}")


@contextmanager
def launched(
    spec: ServerSpec,
    models: Sequence[str],
    models_dir: Path | None,
    workdir: Path,
    env: dict[str, str] | None = None,
) -> Iterator[Launched]:
    """The server of ``spec`` started and ready; stopped (with every process it
    started) on exit."""
    port, metrics_port, stats_port = free_port(), free_port(), free_port()
    config = write_config(spec, port, models, models_dir, workdir)
    environ = {
        **os.environ,
        **(env or {}),
        **spec.env,
        "PYTHONPATH": str(spec.checkout),
        # Never join a Ray cluster someone else started on this machine.
        "RAY_ADDRESS": "local",
        **own_ports(stats_port),
    }
    log = workdir / f"{spec.label}.log"
    command = [sys.executable, "-m", "serve_app.launch.cli", "start", str(config)]
    command += ["--metrics-export-port", str(metrics_port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=spec.checkout, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        _wait_backends_up(stats_port)
        strangers = set(listening_pids(port)) - set(descendants(process.pid))
        if strangers:
            raise RuntimeError(f"port {port} is shared with processes {sorted(strangers)}")
        yield Launched(url, process.pid, f"http://127.0.0.1:{metrics_port}/metrics", log)
    finally:
        _stop(process)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}): {_tail(log)}")
        try:
            if httpx.get(f"{url}/readiness", timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the server was not ready in {START_TIMEOUT_S:.0f} s: {_tail(log)}")


def _wait_backends_up(stats_port: int) -> None:
    """Until HAProxy has marked every ingress replica up (two health checks 5 s
    apart): before, it sends requests to Serve's own proxy instead, a slower path.
    Without HAProxy (its stats port does not answer), at once."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            csv = httpx.get(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=5).text
        except httpx.HTTPError:
            return
        replicas = [row.split(",") for row in csv.splitlines() if "SERVE_REPLICA" in row]
        if replicas and all(row[17] == "UP" for row in replicas):  # column 17: status
            return
        time.sleep(1.0)
    raise RuntimeError("HAProxy did not see the ingress replicas healthy")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it; whatever it leaves running is killed by pid."""
    tree = descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in tree:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
