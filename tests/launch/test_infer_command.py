"""``rfserve infer`` against the session's server on loopback: one JSON line per image,
in input order, the same answer as the API's; drawings and answers written where
asked; a video's frames at a stride; a refused image reported, not fatal."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from serve_app.launch.cli import main
from tests.support import EXAMPLE_JPEG, loopback_http, stable

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def infer(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    with pytest.raises(SystemExit) as exit_info:
        main(["infer", *argv])
    out, _ = capsys.readouterr()
    return int(exit_info.value.code or 0), [json.loads(line) for line in out.splitlines()]


def classic_answer(client: httpx.Client, model_id: str, image: bytes) -> dict[str, Any]:
    r = client.post(f"/{model_id}", content=base64.b64encode(image), headers=FORM)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


@pytest.mark.parametrize(
    "model_id", ["shapes-detection/1", "shapes-keypoints/1", "shapes-classification/1"]
)
def test_one_image_one_line_as_the_api_answers(
    server: str, client: httpx.Client, model_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = infer(["-i", str(EXAMPLE_JPEG), "-m", model_id, "-h", server], capsys)
    assert code == 0
    (line,) = lines
    assert line.pop("input") == str(EXAMPLE_JPEG)
    assert stable(line) == stable(classic_answer(client, model_id, EXAMPLE_JPEG.read_bytes()))


def write_images(folder: Path) -> list[Path]:
    """The example and two flipped copies, named out of order."""
    image = cv2.imread(str(EXAMPLE_JPEG))
    folder.mkdir()
    paths = [folder / "c.jpg", folder / "a.png", folder / "b.jpeg"]
    for path, flip in zip(paths, (None, 1, 0), strict=True):
        cv2.imwrite(str(path), image if flip is None else cv2.flip(image, flip))
    (folder / "notes.txt").write_text("not an image")
    return sorted(paths)


def test_a_folder_with_drawings_written_out(
    server: str, client: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = write_images(tmp_path / "in")
    out = tmp_path / "out"
    argv = ["-i", str(tmp_path / "in"), "-m", "shapes-segmentation/1", "-h", server]
    code, lines = infer([*argv, "-o", str(out), "--in-flight", "2"], capsys)
    assert code == 0
    assert [line["input"] for line in lines] == [str(p) for p in images]
    for path, line in zip(images, lines, strict=True):
        expected = classic_answer(client, "shapes-segmentation/1", path.read_bytes())
        assert stable({k: v for k, v in line.items() if k != "input"}) == stable(expected)
        assert "visualization" not in line
        saved = json.loads((out / f"{path.stem}_prediction.json").read_text())
        assert stable(saved) == stable(expected)
        drawn = cv2.imread(str(out / f"{path.stem}_prediction.jpg"))
        original = cv2.imread(str(path))
        assert drawn is not None and drawn.shape == original.shape
        assert np.abs(drawn.astype(int) - original).max() > 100  # predictions drawn on it


def test_no_visualise_writes_answers_only(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["-i", str(EXAMPLE_JPEG), "-m", "shapes-detection/1", "-h", server, "-o", str(out)]
    code, _ = infer([*argv, "-v"], capsys)  # Roboflow's short flag for --no-visualise
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["shapes_prediction.json"]


def write_video(path: Path, frames: int) -> list[np.ndarray]:
    image = cv2.imread(str(EXAMPLE_JPEG))
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (width, height))
    shots = [np.roll(image, 40 * i, axis=1) for i in range(frames)]
    for shot in shots:
        writer.write(shot)
    writer.release()
    return shots


def test_a_video_every_other_frame(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "clip.avi"
    write_video(video, 5)
    argv = ["-i", str(video), "-m", "shapes-detection/1", "-h", server, "--frame-stride", "2"]
    code, lines = infer([*argv, "-o", str(tmp_path / "out")], capsys)
    assert code == 0
    assert [line["frame"] for line in lines] == [0, 2, 4]
    assert {line["input"] for line in lines} == {str(video)}
    assert all(line["predictions"] for line in lines)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"frame_{f:06d}.{ext}" for f in (0, 2, 4) for ext in ("jpg", "json")]


def test_an_answer_refused_is_a_line_and_the_exit_status(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(EXAMPLE_JPEG, folder / "good.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    code, lines = infer(["-i", str(folder), "-m", "shapes-detection/1", "-h", server], capsys)
    assert code == 1
    broken, good = lines
    assert broken["error"]["status"] == 400 and broken["error"]["message"].startswith("HTTP 400: ")
    assert good["predictions"]


def test_a_model_the_server_lacks(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, (line,) = infer(["-i", str(EXAMPLE_JPEG), "-m", "no-such-model/9", "-h", server], capsys)
    assert code == 1
    assert line["error"]["status"] == 404 and "no-such-model/9" in line["error"]["message"]


@contextmanager
def server_answering(statuses: list[int]) -> Iterator[str]:
    """A loopback server answering each POST with the next of ``statuses`` (503s say
    "try again" at once, with Retry-After: 0)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
            self.rfile.read(int(self.headers["content-length"]))
            status = statuses.pop(0)
            body = b'{"message": "Try again"}' if status == 503 else b'{"predictions": []}'
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url


@pytest.mark.parametrize(("statuses", "code"), [([503, 503, 200], 0), ([503] * 4, 1)])
def test_a_busy_server_is_asked_again_a_few_times(
    statuses: list[int], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with server_answering(statuses) as url:
        got, (line,) = infer(["-i", str(EXAMPLE_JPEG), "-m", "a/1", "-h", url], capsys)
    assert got == code
    assert statuses == []
    if code == 0:
        assert line["predictions"] == []
    else:
        assert line["error"] == {"status": 503, "message": "HTTP 503: Try again"}
