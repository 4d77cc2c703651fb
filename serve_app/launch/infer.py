"""``rfserve infer``: Roboflow's ``inference infer`` against any Roboflow-compatible
server, printing one JSON line per image.

Options keep the names and short flags of Roboflow's command (``-i``, ``-m``, ``-h``
for the host, ``-a``, ``-o``, ``--visualise/--no-visualise``), so a line written for
one works with the other. Requests go to the classic ``POST /{dataset}/{version}``
route, which both servers answer for every task; with ``--visualise`` the server
draws the predictions (``format=image_and_json``), so this command needs no drawing
code, and OpenCV only to read a video's frames. A folder or a video keeps a few
requests in flight; lines come out in input order.

Where it differs from Roboflow's: every answer is a JSON line on stdout (progress
goes to stderr), a video's drawn frames are written as images rather than a video,
and there is no ``--display`` nor visualisation or model config files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serve_app.launch.arguments import Commands, add_server_options, fail
from serve_app.launch.client import InferenceClient, ServerError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png"})
"""What a folder is scanned for, as Roboflow's client scans it."""
VIDEO_EXTENSIONS = frozenset(
    {"mp4", "webm", "mkv", "flv", "vob", "ogg", "ogv", "avi", "mov", "qt", "wmv"}
)
"""Inputs read as videos, by extension, as Roboflow's command decides."""
JPEG_QUALITY = 95
BUSY_RETRIES = 3
"""A 503 says "try again": Roboflow's server answers it to requests that arrive while
another loads the model, as a folder's first few do."""


@dataclass(frozen=True)
class Item:
    """One image to send: where it came from and its encoded bytes."""

    source: str
    frame: int | None
    data: bytes

    @property
    def stem(self) -> str:
        """Output file names, as Roboflow's command names them."""
        if self.frame is not None:
            return f"frame_{self.frame:06d}"
        return f"{Path(self.source.split('?')[0]).stem}_prediction"


def add_parsers(commands: Commands) -> None:
    parser = commands.add_parser(
        "infer",
        add_help=False,
        help="send an image, a folder of images or a video to a server",
        description="Send images to a running server (this one or Roboflow's) through "
        "the classic POST /{dataset}/{version} route and print one JSON line per image. "
        "The options are those of Roboflow's `inference infer`; its -h is the host, so "
        "help is --help only.",
    )
    parser.add_argument(
        "-i",
        "--input",
        required=True,
        help="an image file, an image URL, a folder of images (jpg, png) or a video file",
    )
    add_server_options(parser)
    parser.add_argument(
        "-o",
        "--output_location",
        type=Path,
        help="folder to write each answer (NAME_prediction.json) and, with --visualise, "
        "the image with predictions drawn (NAME_prediction.jpg)",
    )
    parser.add_argument(
        "-V",
        "--visualise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="have the server draw predictions, written to --output_location (default: yes)",
    )
    parser.add_argument("-v", dest="visualise", action="store_false", help="--no-visualise")
    parser.add_argument("--confidence", type=float, help="confidence threshold, 0..1")
    parser.add_argument("--overlap", type=float, help="NMS IoU threshold, 0..1")
    parser.add_argument(
        "--frame-stride", type=int, default=1, help="video: send every Nth frame (default 1)"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=4,
        help="requests in flight for a folder or a video (default 4)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.frame_stride < 1 or args.in_flight < 1:
        return fail("rfserve infer", "--frame-stride and --in-flight must be 1 or more")
    try:
        items, total = read_inputs(args.input, args.frame_stride)
    except (OSError, ValueError) as exc:
        return fail("rfserve infer", str(exc))
    drawn = args.visualise and args.output_location is not None
    if args.output_location is not None:
        args.output_location.mkdir(parents=True, exist_ok=True)
    # Labelled: Roboflow's server draws none unless asked.
    query: dict[str, str | float] = (
        {"format": "image_and_json", "labels": "true"} if drawn else {"format": "json"}
    )
    for name in ("confidence", "overlap"):
        if getattr(args, name) is not None:
            query[name] = getattr(args, name)
    client = InferenceClient(args.host, args.api_key, busy_retries=BUSY_RETRIES)
    failed = 0
    try:
        for item, outcome in _answers(client, args.model_id, items, query, args.in_flight, total):
            if isinstance(outcome, ServerError) and outcome.status is None:
                return fail("rfserve infer", f"{outcome.message}: is the server running?")
            failed += isinstance(outcome, ServerError)
            print(json.dumps(_line(item, outcome, args.output_location)), flush=True)
    except (OSError, ValueError) as exc:
        return fail("rfserve infer", str(exc))
    finally:
        client.close()
    return 1 if failed else 0


def read_inputs(reference: str, stride: int) -> tuple[Iterator[Item], int | None]:
    """The images ``reference`` names, read lazily, and how many (None: unknown)."""
    if reference.startswith(("http://", "https://")):
        return iter([_download(reference)]), 1
    path = Path(reference)
    if path.suffix.lstrip(".").lower() in VIDEO_EXTENSIONS:
        return _video_frames(path, stride)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"{reference} holds no .jpg, .jpeg or .png file")
        return (Item(str(p), None, p.read_bytes()) for p in files), len(files)
    if not path.is_file():
        raise ValueError(f"{reference} does not exist")
    return iter([Item(reference, None, path.read_bytes())]), 1


def _download(url: str) -> Item:
    """Fetched here, as Roboflow's client does, so the server needs no way out."""
    import httpx

    try:
        response = httpx.get(url, follow_redirects=True, timeout=60)
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot fetch {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ValueError(f"{url} answered HTTP {response.status_code}")
    return Item(url, None, response.content)


def _video_frames(path: Path, stride: int) -> tuple[Iterator[Item], int | None]:
    import cv2

    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot read it as a video")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def frames() -> Iterator[Item]:
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                if index % stride == 0:
                    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                    if ok:
                        yield Item(str(path), index, jpeg.tobytes())
                index += 1
        finally:
            capture.release()

    return frames(), -(-count // stride) if count > 0 else None


def _answers(
    client: InferenceClient,
    model_id: str,
    items: Iterator[Item],
    query: dict[str, str | float],
    in_flight: int,
    total: int | None,
) -> Iterator[tuple[Item, dict[str, Any] | ServerError]]:
    """Each item and its answer, in input order, ``in_flight`` requests at a time."""
    from tqdm import tqdm

    def send(item: Item) -> dict[str, Any] | ServerError:
        try:
            return dict(client.classic(model_id, item.data, **query).body)
        except ServerError as exc:
            return exc

    pending: deque[tuple[Item, Future[dict[str, Any] | ServerError]]] = deque()
    bar = tqdm(total=total, unit="image", file=sys.stderr, disable=total == 1, leave=False)
    with bar, ThreadPoolExecutor(in_flight) as pool:
        for item in items:
            pending.append((item, pool.submit(send, item)))
            if len(pending) >= in_flight:
                done, future = pending.popleft()
                yield done, future.result()
                bar.update()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
            bar.update()


def _line(item: Item, outcome: dict[str, Any] | ServerError, out: Path | None) -> dict[str, Any]:
    """The JSON line of one image: the answer with where the image came from; the
    answer and the drawing saved under ``out``."""
    where: dict[str, Any] = {"input": item.source}
    if item.frame is not None:
        where["frame"] = item.frame
    if isinstance(outcome, ServerError):
        return {**where, "error": {"status": outcome.status, "message": outcome.message}}
    drawing = outcome.pop("visualization", None)
    if out is not None:
        (out / f"{item.stem}.json").write_text(json.dumps(outcome))
        if isinstance(drawing, str):
            import base64

            (out / f"{item.stem}.jpg").write_bytes(base64.b64decode(drawing))
    return {**where, **outcome}
