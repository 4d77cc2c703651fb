#!/bin/sh
# The one recipe every image runs (Dockerfile.arm, Dockerfile.gpu, Dockerfile.jetson),
# in three steps, so that each step is one layer and a code change rebuilds only the
# last:
#
#   recipe.sh system [--system-site-packages] APT_PACKAGE...
#       Debian or Ubuntu packages (no recommends, lists dropped), the venv /opt/venv,
#       the user rfserve (uid 10001, primary group 0) and /cache: owned by it, and
#       group 0 writable, so any uid in group 0 (OpenShift's arbitrary uids) can
#       write the cache too; the healthcheck command.
#   recipe.sh deps [EXTRA...]
#       pyproject.toml's dependencies (and those of each EXTRA) into the venv, from
#       /src/pyproject.toml alone: this layer changes only when pyproject.toml does.
#   recipe.sh app [MODULE...]
#       the project itself from /src, without dependencies (already there); /src goes.
#       The build fails unless the server and each MODULE import (an extra the base
#       was to provide, such as TensorRT).
#
# pip keeps no cache (PIP_NO_CACHE_DIR) and compiles bytecode as it installs, so the
# user running the image never needs to write next to the code.
set -eu

HERE=$(dirname "$0")
VENV=/opt/venv
UID_=10001

system() {
    venv_options=""
    if [ "${1:-}" = "--system-site-packages" ]; then
        venv_options=$1
        shift
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
    # shellcheck disable=SC2086 # the option is one word or none
    python3 -m venv $venv_options "$VENV"
    useradd --no-log-init --create-home --uid "$UID_" --gid 0 rfserve
    mkdir -p /cache
    chown "$UID_:0" /cache /home/rfserve
    # Group 0 writes as the owner does; new entries keep group 0 (setgid).
    chmod 2775 /cache /home/rfserve
    install -m 0755 "$HERE/healthcheck.py" /usr/local/bin/rfserve-healthcheck
}

deps() {
    "$VENV/bin/python" "$HERE/requirements.py" /src/pyproject.toml "$@" > /tmp/requirements.txt
    "$VENV/bin/pip" install --requirement /tmp/requirements.txt
    rm /tmp/requirements.txt
}

app() {
    "$VENV/bin/pip" install --no-deps /src
    rm -rf /src
    command -v rfserve
    for module in serve_app.launch.cli "$@"; do
        "$VENV/bin/python" -c "import $module"
    done
}

step=$1
shift
case "$step" in
    system | deps | app) "$step" "$@" ;;
    *) echo "usage: recipe.sh system|deps|app ..." >&2; exit 2 ;;
esac
