#!/usr/bin/env bash
# What the image tests (tests/container/) need, installed only where missing: podman and
# runc to build and run the images, debootstrap to make their base where no registry
# is reachable, and podman's settings for these machines (their limits are below
# podman's default ulimits; crun refuses their cgroup layout). As root only (CI runs
# as root): elsewhere the tests skip and say why.
set -euo pipefail
[ "$(id -u)" = 0 ] || exit 0
missing=()
for tool in podman runc debootstrap; do
    command -v "$tool" > /dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    { apt-get update -q < /dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
           "${missing[@]}" < /dev/null; } \
      || { echo "${missing[*]} could not be installed: the image tests will skip"; exit 0; }
fi
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ]; then
    mkdir -p "$(dirname "$conf")"
    cat > "$conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi
