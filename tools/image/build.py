"""Build the CPU image (``Dockerfile.arm``) with podman, from nothing but Debian's and
Python's package registries:

    python -m tools.image.build                 # base (once), then the image
    python -m tools.image.build --base-only
    python -m tools.image.build --rebuild-base  # a fresh base, from today's packages

No container registry is needed: the base is a local stand-in for
``debian:bookworm-slim``, built with ``debootstrap --variant=minbase bookworm`` (the
variant the official image is made from, with its slimming: no documentation,
manuals or translations installed) and imported with ``podman import``; it is kept and
reused while present. The image then builds from ``Dockerfile.arm`` unchanged, its
``BASE`` pointed at the stand-in. Prints the image's size and each step's time.

Builds run on the host's network with the host's CA bundle mounted read-only over the
image's (``/etc/ssl/certs/ca-certificates.crt``, where Debian's pip looks; a bind mount
is not kept in the image), so a proxy that re-signs TLS works as it does on the host.
For that the stand-in has ``ca-certificates`` installed already (as ``python:*-slim``
has): installing it during the build would rewrite the mounted bundle and fail. The
images install it themselves, so an image built on the real base holds the same.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/rfserve-base:bookworm-slim"
"""The stand-in for ``debian:bookworm-slim``."""
IMAGE = "localhost/rfserve:0.1.0"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

SLIM_DPKG_EXCLUDES = """\
# As debian:*-slim images: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
"""
SLIMMED = ("groff", "info", "linda", "lintian/overrides", "locale", "man")
"""Under /usr/share: what debootstrap installed before the excludes were in place."""
SOURCES = f"""\
Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


APT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}


def run(command: Sequence[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def build_base(name: str = BASE, mirror: str = MIRROR) -> None:
    """debootstrap a minimal bookworm, slim it as the official image is, import it."""
    with tempfile.TemporaryDirectory(prefix="rfserve-base-") as work:
        rootfs = Path(work) / "rootfs"
        include = "--include=ca-certificates"
        run(["debootstrap", "--variant=minbase", include, SUITE, str(rootfs), mirror])
        (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_DPKG_EXCLUDES)
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
        # Today's point release and security updates, as the official image has them.
        upgrade = "apt-get update && apt-get upgrade -y && apt-get clean"
        run(["chroot", str(rootfs), "sh", "-c", upgrade], env=APT_ENV)
        share = rootfs / "usr/share"
        for path in (share / "doc").rglob("*"):
            if path.name != "copyright" and not path.is_dir():
                path.unlink()
        for folder in SLIMMED:
            shutil.rmtree(share / folder, ignore_errors=True)
        for cache in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (rootfs / cache).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run(["podman", "import", "--change", 'CMD ["bash"]', "-", name], stdin=tar.stdout)
        if tar.wait() != 0:
            raise SystemExit("tar of the base's root filesystem failed")


def build_image(dockerfile: str = "Dockerfile.arm", tag: str = IMAGE, base: str = BASE) -> None:
    # Docker's format: OCI images carry no HEALTHCHECK.
    command = ["podman", "build", "--format", "docker", "--network", "host"]
    command += ["--build-arg", f"BASE={base}"]
    if CA_BUNDLE.is_file():
        command += ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    before = image_id(tag)
    run([*command, "--file", dockerfile, "--tag", tag, "."], cwd=ROOT)
    if before and before != image_id(tag):
        # The build it replaces, unless a container still uses it: rebuilds after each
        # code change would otherwise pile up.
        subprocess.run(["podman", "rmi", before], capture_output=True, check=False)


def image_id(name: str) -> str | None:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.strip() or None


def image_size(name: str) -> int:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", name],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.strip())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.image.build", description=__doc__)
    parser.add_argument("--base-only", action="store_true")
    parser.add_argument("--rebuild-base", action="store_true")
    parser.add_argument("--mirror", default=MIRROR, help="Debian mirror for debootstrap")
    parser.add_argument("--tag", default=IMAGE)
    args = parser.parse_args(argv)
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed (apt-get install podman runc debootstrap)")
    timings: dict[str, float] = {}
    if args.rebuild_base or not image_exists(BASE):
        start = time.monotonic()
        build_base(BASE, args.mirror)
        timings["base"] = time.monotonic() - start
    else:
        print(f"{BASE} is present: reused (--rebuild-base for a fresh one)")
    if not args.base_only:
        start = time.monotonic()
        build_image(tag=args.tag)
        timings["image"] = time.monotonic() - start
        print(f"{args.tag}: {image_size(args.tag) / 1e9:.2f} GB uncompressed")
    for step, seconds in timings.items():
        print(f"{step} built in {seconds:.0f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
