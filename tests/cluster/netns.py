"""Network namespaces joined by a bridge: each Ray node of a test cluster gets its own
network stack and address, as machines on one LAN do.

The bridge lives in the root namespace with the subnet's first address, so the test
process (in the root namespace) reaches every node. Names carry a random tag, so two
test sessions on one machine never touch each other's namespaces or links.
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside network namespace ``netns`` (None: this one)."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def _ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        in_netns(netns, ["ip", *args]), capture_output=True, text=True, check=False, timeout=30
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def namespaces_unavailable() -> str | None:
    """Why this machine cannot make namespaces with veth links, or None when it can
    (it needs iproute2 and root); probed by making and deleting one."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    tag = secrets.token_hex(3)
    netns, veth = f"rfs-probe-{tag}", f"rfp{tag}"
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", f"{veth}x")
        _ip("link", "set", f"{veth}x", "netns", netns)
        _ip("link", "add", f"rfq{tag}", "type", "bridge")
    except RuntimeError as e:
        return f"cannot make a network namespace with a veth link and a bridge: {e}"
    finally:
        _ip("link", "del", f"rfq{tag}", check=False)
        _ip("link", "del", veth, check=False)
        _ip("netns", "del", netns, check=False)
    return None


@dataclass(frozen=True)
class Host:
    """One network namespace: a machine of the test cluster."""

    netns: str
    address: str
    link: str
    """The root namespace's end of its veth, on the bridge."""

    def cut_off(self) -> None:
        """Take the host's link down: it stays up, unreachable, as behind a dead switch."""
        _ip("link", "set", self.link, "down")

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this namespace."""
        return in_netns(self.netns, argv)

    def pids(self) -> list[int]:
        """Every process whose network namespace this is."""
        return [int(p) for p in _ip("netns", "pids", self.netns, check=False).split()]


def _free_subnet() -> ipaddress.IPv4Network:
    used = [
        ipaddress.ip_interface(word).network
        for line in _ip("-4", "-o", "addr").splitlines()
        for word in line.split()
        if "/" in word and word[0].isdigit()
    ]
    for _ in range(100):
        subnet = ipaddress.IPv4Network(
            f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}.0/24"
        )
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test network")


@contextmanager
def bridged_hosts(count: int) -> Iterator[tuple[Host, ...]]:
    """``count`` namespaces, each with a veth into one bridge and its own address on a
    free /24; all of it is deleted on exit, whatever still runs inside (run
    :meth:`Host.pids` and end those processes first)."""
    tag = secrets.token_hex(3)
    subnet = _free_subnet()
    addresses = [str(a) for a in subnet.hosts()]
    bridge = f"rfb{tag}"
    hosts = tuple(
        Host(f"rfserve-{tag}-{i}", addresses[i + 1], f"rfv{tag}{i}") for i in range(count)
    )
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{addresses[0]}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i, host in enumerate(hosts):
            outer, inner = host.link, f"rfw{tag}{i}"
            _ip("netns", "add", host.netns)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", host.netns)
            _ip("link", "set", outer, "master", bridge)
            _ip("link", "set", outer, "up")
            _ip("link", "set", "lo", "up", netns=host.netns)
            _ip("addr", "add", f"{host.address}/{subnet.prefixlen}", "dev", inner, netns=host.netns)
            _ip("link", "set", inner, "up", netns=host.netns)
        yield hosts
    finally:
        for host in hosts:
            # Deleting the namespace deletes the veth end inside it, and with it its peer.
            _ip("netns", "del", host.netns, check=False)
            _ip("link", "del", host.link, check=False)
        _ip("link", "del", bridge, check=False)
