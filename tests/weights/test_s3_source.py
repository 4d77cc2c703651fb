"""The S3 source against a real S3 API (SeaweedFS on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from serve_app.app import weight_sources
from serve_app.config import ServerSettings
from serve_app.core.ids import ModelId
from serve_app.errors import UpstreamUnavailableError
from serve_app.weights.package import read_package
from serve_app.weights.s3 import S3Source, _md5_of
from tests.conftest import free_port
from tests.weights.seaweed import ACCESS_KEY, BUCKET, PREFIX, SECRET_KEY, SeaweedS3


def s3_source(endpoint_url: str, **overrides: object) -> S3Source:
    settings = {
        "s3_bucket": BUCKET,
        "s3_prefix": f"/{PREFIX}/",  # slashes around the prefix are forgiven
        "s3_endpoint_url": endpoint_url,
        "s3_region": "us-east-1",
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SecretStr(SECRET_KEY),
        "weights_retries": 1,
        "weights_timeout_s": 5.0,
        **overrides,
    }
    config = weight_sources(ServerSettings(weight_sources=["s3"], **settings)).s3
    assert config is not None
    return S3Source(config)


def test_fetches_every_file_of_the_model_folder(
    seaweed: SeaweedS3, source_package: Path, tmp_path: Path
) -> None:
    seaweed.upload_package(source_package, "s3-unit/1", ("left", "right"))
    # A deeper key is another folder's, not a file of this package.
    seaweed.client().put_object(Bucket=BUCKET, Key=f"{PREFIX}/s3-unit/1/extra/x.bin", Body=b"x")
    assert s3_source(seaweed.endpoint_url).fetch(ModelId.parse("s3-unit/1"), tmp_path, None)
    names = {"weights.onnx", "environment.json", "model_type.json", "class_names.txt"}
    assert {p.name for p in tmp_path.iterdir()} == names
    for name in names - {"class_names.txt"}:
        assert (tmp_path / name).read_bytes() == (source_package / name).read_bytes()
    package = read_package(ModelId.parse("s3-unit/1"), tmp_path)
    assert package.spec.class_names == ("left", "right")


def test_missing_model_is_a_miss(seaweed: SeaweedS3, tmp_path: Path) -> None:
    assert not s3_source(seaweed.endpoint_url).fetch(ModelId.parse("s3-none/1"), tmp_path, None)


def test_refused_credentials_are_a_503(seaweed: SeaweedS3, tmp_path: Path) -> None:
    source = s3_source(seaweed.endpoint_url, s3_secret_access_key=SecretStr("not-the-secret"))
    with pytest.raises(UpstreamUnavailableError, match="refused the server's credentials"):
        source.fetch(ModelId.parse("s3-unit/1"), tmp_path, None)


def test_unreachable_endpoint_is_a_503(tmp_path: Path) -> None:
    source = s3_source(f"http://127.0.0.1:{free_port()}", weights_retries=0)
    with pytest.raises(UpstreamUnavailableError, match="EndpointConnectionError"):
        source.fetch(ModelId.parse("s3-unit/1"), tmp_path, None)


@pytest.mark.parametrize(
    ("response", "md5"),
    [
        ({"ETag": '"0cc175b9c0f1b6a831c399e269772661"'}, "0cc175b9c0f1b6a831c399e269772661"),
        ({"ETag": '"0cc175b9c0f1b6a831c399e269772661-3"'}, None),  # multipart upload
        ({"ETag": '"0cc175b9c0f1b6a831c399e269772661"', "ServerSideEncryption": "aws:kms"}, None),
        ({"ETag": '"0cc175b9c0f1b6a831c399e269772661"', "SSECustomerAlgorithm": "AES256"}, None),
        ({"ETag": '"0cc175b9c0f1b6a831c399e269772661"', "ServerSideEncryption": "AES256"},
         "0cc175b9c0f1b6a831c399e269772661"),
        ({}, None),
    ],
)  # fmt: skip
def test_only_an_etag_that_is_an_md5_is_checked(response: dict[str, str], md5: str | None) -> None:
    assert _md5_of(response) == md5
