"""Which session a model's forward pass runs on: the wider one only for a pass its
replica says is alone, and the threads the engine factory gives that session."""

from __future__ import annotations

import os

import numpy as np
import pytest

from serve_app.core.engines import EngineOptions
from serve_app.core.frames import FrameTransform
from serve_app.core.requests import ImageBatch, InferenceParams
from serve_app.engines.factory import OnnxEngineFactory, lone_threads
from serve_app.engines.onnxruntime import OnnxRuntimeEngine
from serve_app.replica.loaded_model import LoadedModel
from tests.engines.models import bundled_package
from tests.engines.test_onnxruntime_engine import _calls

BATCH = ImageBatch(
    np.zeros((1, 320, 320, 3), np.uint8), (FrameTransform(320, 320),), (InferenceParams(),)
)


def loaded(**options: object) -> tuple[LoadedModel, OnnxRuntimeEngine]:
    engine_options = EngineOptions(backend="onnxruntime", num_threads=1, **options)  # type: ignore[arg-type]
    model = LoadedModel.load(
        bundled_package("shapes-detection/1"), OnnxEngineFactory(engine_options, 1)
    )
    assert isinstance(model.engine, OnnxRuntimeEngine)
    return model, model.engine


def test_a_lone_batch_runs_on_the_wide_session_and_others_on_the_narrow_one() -> None:
    model, engine = loaded(lone_threads=2)
    calls = _calls(engine)
    model.run_batch(BATCH, alone=True)
    assert calls == {"session": 0, "lone_session": 1}
    model.run_batch(BATCH)
    assert calls == {"session": 1, "lone_session": 1}
    assert (model.pass_threads(alone=True), model.pass_threads(alone=False)) == (2, 1)


def test_all_means_every_core_this_process_may_use() -> None:
    cores = len(os.sched_getaffinity(0))
    assert lone_threads(EngineOptions(lone_threads="all")) == cores
    if cores > 1:
        _, engine = loaded(lone_threads="all")
        assert engine.lone_session is not None
        assert engine.lone_session.get_session_options().intra_op_num_threads == cores


@pytest.mark.parametrize("chosen", [None, 0])
def test_no_lone_layout_where_none_was_chosen(chosen: int | None) -> None:
    """None reaches an engine only where no builder chose (a direct caller): off."""
    assert lone_threads(EngineOptions(lone_threads=chosen)) == 0
    model, engine = loaded(lone_threads=chosen)
    assert engine.lone_session is None
    assert model.pass_threads(alone=True) == 1


@pytest.mark.parametrize("bad", [-1, "some"])
def test_lone_threads_is_a_count_all_or_null(bad: object) -> None:
    with pytest.raises(ValueError, match="lone_threads"):
        EngineOptions(lone_threads=bad)  # type: ignore[arg-type]
