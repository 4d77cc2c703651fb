"""The ingress policy on its own: who gets in, with which key weights are fetched."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from serve_app.api.policy import IngressPolicy
from serve_app.app import ingress_policy
from serve_app.config import ServerSettings
from serve_app.errors import PayloadTooLargeError, UnauthorizedError


def test_an_open_server_passes_the_clients_key_on_for_weights() -> None:
    policy = ingress_policy(ServerSettings())
    assert not policy.access_control
    assert policy.weights_key("client-key") == "client-key"
    assert policy.weights_key(None) is None


def test_with_access_control_a_key_only_opens_the_door() -> None:
    policy = ingress_policy(ServerSettings(api_keys=[SecretStr("k1"), SecretStr("k2")]))
    assert policy.weights_key("k2") is None  # the server's own ROBOFLOW_API_KEY is used
    for presented in (None, "", "k3", "k1 "):
        with pytest.raises(UnauthorizedError):
            policy.weights_key(presented)
    assert "k1" not in repr(policy)


def test_accepted_keys_come_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFSERVE_API_KEYS", "alpha, beta")
    policy = ingress_policy(ServerSettings())
    assert policy.accepted_keys == ("alpha", "beta")


def test_images_per_request() -> None:
    policy = IngressPolicy(max_body_bytes=1000, max_images_per_request=2, accepted_keys=())
    policy.check_images(2)
    with pytest.raises(PayloadTooLargeError, match="at most 2"):
        policy.check_images(3)
