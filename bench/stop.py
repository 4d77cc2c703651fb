"""How long ``rfserve start`` takes to stop, each way a server is stopped, and what it
leaves behind.

    python -m bench.stop configs/local.yaml configs/split.yaml configs/edge.yaml:--edge \
        --out bench/results/stop-times

Each run starts ``rfserve start CONFIG`` on free ports (the serve port, HAProxy's
metrics and stats ports, Ray's metrics port) in a session of its own, as a terminal or
a service manager would, waits for ``/readiness``, sends one of :data:`WAYS`, and
times it until the start command exits. Then it lists what of the server still runs
and which of its ports cannot be bound again (what a next start would need).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bench.report import save_record
from serve_app.launch.process_tree import descendants, is_running


def ctrl_c(server: subprocess.Popen[bytes]) -> None:
    """What a terminal does on Ctrl-C: SIGINT to its foreground process group."""
    os.killpg(server.pid, signal.SIGINT)


def sigterm_main(server: subprocess.Popen[bytes]) -> None:
    """``docker stop``, Kubernetes, ``kill PID``: SIGTERM to the start command only."""
    server.send_signal(signal.SIGTERM)


def sigterm_group(server: subprocess.Popen[bytes]) -> None:
    """``kill -- -PGID``, as process supervisors stop what they started."""
    os.killpg(server.pid, signal.SIGTERM)


def sigterm_all(server: subprocess.Popen[bytes]) -> None:
    """systemd's ``KillMode=control-group`` (a cgroup kill): SIGTERM to every process of
    the server at once."""
    for pid in [server.pid, *descendants(server.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


WAYS: dict[str, Callable[[subprocess.Popen[bytes]], None]] = {
    "ctrl-c": ctrl_c,
    "sigterm-main": sigterm_main,
    "sigterm-group": sigterm_group,
    "sigterm-all": sigterm_all,
}


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range, so no connection the kernel
    numbers at random takes it before a server started later (HAProxy) binds it."""
    while True:
        port = int.from_bytes(os.urandom(2), "big") % 10_000 + 20_000
        if can_bind(port):
            return port


def can_bind(port: int) -> bool:
    """Whether a server could listen on ``port`` now (on every address, as Serve does)."""
    with socket.socket() as s:
        # As servers bind: connections of the last one waiting out TIME_WAIT on the
        # port do not keep a new listener off it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))  # noqa: S104 - probing what the server binds
        except OSError:
            return False
    return True


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    ports: dict[str, int]
    log: Path

    def pids(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)]


@contextlib.contextmanager
def started(config: Path, options: Sequence[str], workdir: Path) -> Iterator[Server]:
    """``rfserve start`` of ``config`` on free ports, in a clean environment (Ray's and
    the server's own variables dropped, as in a user's shell); killed on the way out
    if it still runs."""
    ports = {
        "serve": free_port(),
        "haproxy metrics": free_port(),
        "haproxy stats": free_port(),
        "ray metrics": free_port(),
    }
    serve_config = yaml.safe_load(config.read_text())
    serve_config["http_options"]["port"] = ports["serve"]
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "serve.yaml").write_text(yaml.safe_dump(serve_config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RFSERVE_"))}
    env |= {
        "MODEL_CACHE_DIR": str(workdir / "cache"),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(ports["haproxy metrics"]),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(ports["haproxy stats"]),
    }
    rfserve = str(Path(sys.executable).with_name("rfserve"))
    command = [rfserve, "start", str(workdir / "serve.yaml"), *options]
    command += ["--metrics-export-port", str(ports["ray metrics"])]
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            command, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{ports['serve']}", ports, log)
    try:
        yield server
    finally:
        for pid in server.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


def wait_ready(server: Server, timeout_s: float) -> float:
    """Seconds until ``GET /readiness`` answered 200; raises at ``timeout_s`` or when the
    server exits."""
    start = time.monotonic()
    while True:
        try:
            if httpx.get(f"{server.url}/readiness", timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log.read_text()[-3000:]}")
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"not ready after {timeout_s:g} s")
        time.sleep(0.3)


@dataclass
class Stopped:
    way: str
    seconds: float | None
    """From the signal to the start command's exit; None if it outlived the bound."""
    exit_code: int | None
    left_running: list[str] = field(default_factory=list)
    """Command lines of the server's processes still running after it exited."""
    ports_held: list[str] = field(default_factory=list)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return ""


def stop(server: Server, way: str, bound_s: float) -> Stopped:
    """Stop ``server`` one of :data:`WAYS`, waiting at most ``bound_s``."""
    before = server.pids()
    start = time.monotonic()
    WAYS[way](server.process)
    try:
        exit_code: int | None = server.process.wait(bound_s)
        seconds: float | None = round(time.monotonic() - start, 1)
    except subprocess.TimeoutExpired:
        exit_code = seconds = None
    left = [command_line(pid) for pid in before if is_running(pid)]
    held = [f"{name}: {holder(port)}" for name, port in server.ports.items() if stays_held(port)]
    return Stopped(way, seconds, exit_code, [line for line in left if line], held)


def stays_held(port: int, for_s: float = 1.0) -> bool:
    """Whether ``port`` cannot be bound for ``for_s``: a leaked listener holds it; a
    process elsewhere probing it for a port of its own (as test suites do) does not."""
    deadline = time.monotonic() + for_s
    while not can_bind(port):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)
    return False


def holder(port: int) -> str:
    """The sockets on ``port`` in any state, with their processes (``ss``), to tell a
    leak from a port taken since."""
    try:
        out = subprocess.run(
            ["ss", "-tanpH", f"sport = :{port}"], capture_output=True, text=True, check=False
        )  # fmt: skip
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


@dataclass
class Run:
    config: str
    ready_s: float
    stopped: Stopped


@dataclass
class StopTimes:
    runs: list[Run] = field(default_factory=list)


def main(argv: Sequence[str] | None = None) -> StopTimes:
    parser = argparse.ArgumentParser(prog="python -m bench.stop", description=__doc__)
    parser.add_argument(
        "configs", nargs="+", help="CONFIG or CONFIG:OPTION,... (options of rfserve start)"
    )
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated, of WAYS")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--settle-s", type=float, default=20.0, help="from ready to the stop")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rfserve-stop"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = StopTimes()
    for spec in args.configs:
        config, _, options = spec.partition(":")
        for way in args.ways.split(","):
            for run in range(args.runs):
                workdir = args.workdir / f"{Path(config).stem}-{way}-{run}"
                with started(Path(config), [o for o in options.split(",") if o], workdir) as s:
                    ready_s = wait_ready(s, 300)
                    # Past start-up: a replica stopped while Serve still counts it as
                    # starting skips the ingress drain, which a running server has.
                    time.sleep(args.settle_s)
                    stopped = stop(s, way, 90)
                print(spec, stopped, flush=True)
                result.runs.append(Run(spec, round(ready_s, 1), stopped))
    save_record(result, args.out)
    return result


if __name__ == "__main__":
    main()
