"""Request paths as clients write them, made into the paths routes are declared for."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_REPEATED_SLASHES = re.compile(r"/{2,}")


class CollapseSlashes:
    """ASGI middleware: ``//a///b`` is routed as ``/a/b``.

    Roboflow's ``roboflow`` package builds ``{local}/{dataset}/{version}``, so a
    ``local="http://localhost:9001/"`` (as its docs write it) posts to
    ``//{dataset}/{version}``, which Roboflow's server answers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = _REPEATED_SLASHES.sub("/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)
