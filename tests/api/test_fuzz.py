"""The OpenAPI schema, fuzzed (schemathesis): whatever a client sends within or around
the documented shapes, the server never answers 500, and every answer has the status,
content type and body shape the schema documents.

The server under test reads models from local folders only and fetches no URL image
(``ALLOW_URL_INPUT=false``), so generated requests never leave the machine. The number
of examples per operation is bounded so the suite stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from serve_app.config import ServerSettings
from tests.fakes import FakeEngineFactory
from tests.serve_apps import deployed, small_app

APP = "fuzz"
EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzzed(serve_port: int, settings: ServerSettings) -> Iterator[str]:
    local_only = settings.model_copy(update={"allow_url_input": False})
    with deployed(APP, small_app(local_only), serve_port, FakeEngineFactory()) as url:
        yield url


def test_every_operation_answers_as_documented(fuzzed: str) -> None:
    # The schema's `servers` entry names the route prefix the application runs under.
    schema = schemathesis.openapi.from_url(f"{fuzzed}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lost its routes"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            # Schema-valid is not servable: the model must exist and the image decode,
            # which the schema cannot say; every other check runs.
            case.call_and_validate(timeout=60, excluded_checks=[positive_data_acceptance])

        answers_as_documented()
