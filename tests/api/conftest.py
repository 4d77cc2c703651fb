"""Fixtures of tests/api beyond the session's main application."""

from tests.fixtures_preprocessing import preprocessing_client, preprocessing_server

__all__ = ["preprocessing_client", "preprocessing_server"]
