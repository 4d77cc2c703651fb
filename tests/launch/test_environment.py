"""The start command's environment: the fast path always, the edge trims on request,
and an operator's own values win."""

from __future__ import annotations

from serve_app.launch.cli import parse_args
from serve_app.launch.environment import EDGE, FAST_PATH, apply_fast_path


def test_fast_path_fills_what_the_environment_lacks() -> None:
    environ = {"RAY_SERVE_ENABLE_HA_PROXY": "0"}
    applied = apply_fast_path(environ)
    assert applied == {**FAST_PATH, "RAY_SERVE_ENABLE_HA_PROXY": "0"}
    assert not (set(EDGE) - set(FAST_PATH)) & set(environ), "edge settings only on request"


def test_edge_turns_haproxy_off_unless_the_operator_says_otherwise() -> None:
    assert apply_fast_path({}, edge=True)["RAY_SERVE_ENABLE_HA_PROXY"] == "0"
    environ = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "MODEL_CACHE_DIR": "/cache"}
    assert apply_fast_path(environ, edge=True) == {**FAST_PATH, **EDGE, **environ}


def test_edge_keeps_models_in_the_users_cache_not_tmp() -> None:
    assert apply_fast_path({"HOME": "/home/pi"}, edge=True)["MODEL_CACHE_DIR"] == (
        "/home/pi/.cache/rfserve"
    )
    environ = {"HOME": "/home/pi", "XDG_CACHE_HOME": "/data/cache"}
    assert apply_fast_path(environ, edge=True)["MODEL_CACHE_DIR"] == "/data/cache/rfserve"
    assert "MODEL_CACHE_DIR" not in apply_fast_path({"HOME": "/home/pi"})


def test_both_commands_take_the_edge_flag() -> None:
    assert parse_args(["start", "configs/edge.yaml", "--edge"]).edge
    assert parse_args(["env", "--edge"]).edge
    assert not parse_args(["start", "configs/local.yaml"]).edge
