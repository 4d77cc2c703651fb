#!/usr/bin/env python3
"""The images' health check: healthy once ``GET /readiness`` answers 200, that is once
the server serves and its preloaded models are loaded.

    rfserve-healthcheck [URL]     # default http://127.0.0.1:9001/readiness

The standard library only, so it runs with any of the images' Pythons.
"""

import sys
import urllib.error
import urllib.request

URL = "http://127.0.0.1:9001/readiness"


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else URL
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:  # noqa: S310 - fixed scheme
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
