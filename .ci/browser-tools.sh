#!/usr/bin/env bash
# What the page's browser test (tests/api/test_page_browser.py) drives: Debian's
# chromium through chromium-driver, installed only where missing and possible (as root,
# with apt-get; CI runs as root). Elsewhere, or if the install fails, the test skips and
# says why.
set -uo pipefail
command -v chromium > /dev/null && command -v chromedriver > /dev/null && exit 0
[ "$(id -u)" = 0 ] && command -v apt-get > /dev/null || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium chromium-driver < /dev/null > /dev/null \
    || { apt-get update -q < /dev/null > /dev/null \
         && apt-get install -y -q chromium chromium-driver < /dev/null > /dev/null; } \
    || echo "chromium could not be installed: the browser test will skip"
exit 0
