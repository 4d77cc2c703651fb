"""Model packages from an S3 bucket or any S3-compatible store.

Model ``dataset/version`` is the folder ``s3://{bucket}/{prefix}/{dataset}/{version}/``
with the files of a local package folder. Credentials come from the settings when
given, otherwise from boto3's standard chain (environment, shared files, instance
role). Calls retry in botocore's standard mode; an object whose body arrives short
or with the wrong checksum (the ETag of a single-part, unencrypted upload is its
MD5) is downloaded again under the same retry budget.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from serve_app.core.ids import ModelId
from serve_app.errors import (
    IncompleteDownloadError,
    StoreAccessDeniedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from serve_app.weights.config import S3Config
from serve_app.weights.download import write_verified

S3Client = Any  # boto3 builds its clients at runtime; they carry no static types

_CHUNK_BYTES = 1 << 20
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MD5_ETAG = re.compile(r"^[0-9a-fA-F]{32}$")
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


class S3Source:
    name = "s3"

    def __init__(self, config: S3Config) -> None:
        self._config = config
        self._bucket = config.bucket
        self._prefix = config.prefix.strip("/")
        self._policy = config.retry
        self._s3: S3Client | None = None
        self._client_guard = threading.Lock()

    def where(self, model_id: ModelId) -> str:
        return f"S3 (s3://{self._bucket}/{self.model_folder(model_id)}/)"

    def fetch(self, model_id: ModelId, dest: Path, api_key: str | None) -> bool:
        return self.fetch_folder(self.model_folder(model_id), dest, f"Model {model_id}")

    def model_folder(self, model_id: ModelId, *subfolders: str) -> str:
        """The key prefix (no trailing slash) of the model's folder, or a folder in it."""
        parts = (self._prefix, model_id.dataset, model_id.version, *subfolders)
        return "/".join(p for p in parts if p)

    def fetch_folder(self, folder: str, dest: Path, what: str) -> bool:
        """Download the files directly under ``folder`` into ``dest``; False if none."""
        with _s3_errors(f"{what} from s3://{self._bucket}/{folder}/"):
            names = self._list_files(folder + "/")
            for name in names:
                download = partial(self._download, f"{folder}/{name}", dest / name)
                self._policy.run(download, retry_on=(IncompleteDownloadError,))
        return bool(names)

    def upload_folder(self, source: Path, folder: str, what: str, last: str) -> None:
        """Upload the files of ``source`` under ``folder``, ``last`` after the rest,
        so a reader that finds ``last`` finds everything."""
        files = sorted(source.iterdir(), key=lambda p: p.name == last)
        with _s3_errors(f"{what} to s3://{self._bucket}/{folder}/"):
            for path in files:
                # put_object, not upload_file: its errors are botocore's, mapped above.
                with path.open("rb") as body:
                    self._client().put_object(
                        Bucket=self._bucket, Key=f"{folder}/{path.name}", Body=body
                    )

    def _list_files(self, prefix: str) -> list[str]:
        """Names of the objects directly under ``prefix`` that are safe as file names."""
        pages = (
            self._client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/")
        )
        names = (obj["Key"][len(prefix) :] for page in pages for obj in page.get("Contents", []))
        return [name for name in names if _SAFE_FILE_NAME.match(name)]

    def _download(self, key: str, dest: Path) -> None:
        response = self._client().get_object(Bucket=self._bucket, Key=key)
        body = response["Body"]
        try:
            write_verified(
                dest,
                body.iter_chunks(_CHUNK_BYTES),
                expected_size=response["ContentLength"],
                expected_md5=_md5_of(response),
            )
        except (IncompleteReadError, ResponseStreamingError) as exc:
            raise IncompleteDownloadError(f"{dest.name}: {type(exc).__name__}") from exc
        finally:
            body.close()

    def _client(self) -> S3Client:
        with self._client_guard:
            if self._s3 is None:
                self._s3 = _create_client(self._config)
            return self._s3


def _create_client(config: S3Config) -> S3Client:
    # Imported here: replicas of a server without S3 never pay for boto3's import.
    import boto3
    from botocore.config import Config

    client_config = Config(
        connect_timeout=config.timeout_s,
        read_timeout=config.timeout_s,
        retries={"max_attempts": config.retry.retries + 1, "mode": "standard"},
        # S3-compatible stores rarely resolve virtual-hosted bucket names.
        s3={"addressing_style": "path"} if config.endpoint_url else None,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=client_config,
    )


def _md5_of(response: dict[str, Any]) -> str | None:
    """The object's MD5 when its ETag is one: not for multipart or KMS/SSE-C uploads."""
    if response.get("SSECustomerAlgorithm") or response.get("ServerSideEncryption") == "aws:kms":
        return None
    etag = str(response.get("ETag", "")).strip('"')
    return etag if _MD5_ETAG.match(etag) else None


@contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """botocore's exceptions → the errors clients are told about."""
    try:
        yield
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise UpstreamTimeoutError(f"{what}: S3 did not answer in time") from exc
    except NoCredentialsError as exc:
        raise UpstreamUnavailableError(f"{what}: the server has no S3 credentials") from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        if code in _DENIED:
            raise StoreAccessDeniedError(
                f"{what}: S3 refused the server's credentials ({code})"
            ) from exc
        raise UpstreamUnavailableError(f"{what}: S3 answered {code}") from exc
    except BotoCoreError as exc:
        raise UpstreamUnavailableError(f"{what}: {type(exc).__name__}") from exc
