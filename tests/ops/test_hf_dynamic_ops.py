"""Models whose dynamic shapes go through ops without a hand-written shape rule.

Mixture-of-experts routing (floor_divide, histc), Mamba's chunked scan (tensor_split), FNet's
FFT and ConvBERT's im2col once specialized the batch and sequence dims (a runtime assertion
like `2 * s1 * s0 == 64` in the program). Each tiny model exports with `Dim.DYNAMIC` batch and
sequence and matches eager at three other sizes; the slow variant also checks that
torch.export keeps the same input dims symbolic.
"""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("quiet_transformers")

import strict_tracer  # noqa: E402
from support.helpers import assert_same  # noqa: E402
from strict_tracer.testing.hf_models import DYNAMIC_CASES, build  # noqa: E402
from strict_tracer.testing.resize import symbolic_dims  # noqa: E402

DEFAULT_RUN = {"mixtral", "fnet"}


def _params(names):
    for name in names:
        marks = () if name in DEFAULT_RUN else (pytest.mark.slow,)
        yield pytest.param(name, marks=marks, id=name)


def _export(name):
    case = DYNAMIC_CASES[name]
    model = build(name)
    example = case.inputs(*case.example_size)
    ep = strict_tracer.export(model, (), example, dynamic_shapes=case.dynamic())
    return case, model, example, ep


@pytest.mark.parametrize("name", list(_params(DYNAMIC_CASES)))
def test_dynamic_batch_and_sequence_match_eager_at_three_sizes(name):
    case, model, example, ep = _export(name)
    assert len(case.fresh_sizes) == 3
    program = ep.module()
    for size in (case.example_size, *case.fresh_sizes):
        inputs = case.inputs(*size)
        with torch.no_grad():
            assert_same(program(**inputs), model(**inputs), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DYNAMIC_CASES))
def test_dynamic_dims_like_torch_export(name):
    case, model, example, ep = _export(name)
    ref = torch.export.export(model, (), example, dynamic_shapes=case.dynamic(), strict=True)
    assert symbolic_dims(ep) == symbolic_dims(ref)


@pytest.mark.slow
def test_bamba_dynamic_length_keeps_whole_chunks_with_a_warning():
    """Bamba's `if pad_size > 0:` takes the unpadded path at the example (length 8, chunk
    size 4): with a `Dim.DYNAMIC` length the program accepts whole numbers of chunks (two or
    more), like torch.export's, and the export says so in a warning naming the line; declared
    as `4 * Dim("chunks")` it accepts length 4 too and warns about nothing."""
    import warnings

    from torch.export import Dim
    case = DYNAMIC_CASES["bamba"]
    model = build("bamba")
    example = case.inputs(*case.example_size)
    with pytest.warns(UserWarning, match="stays dynamic") as record:
        ep = strict_tracer.export(model, (), example, dynamic_shapes=case.dynamic())
    message = "\n".join(str(w.message) for w in record)
    assert "if pad_size > 0:" in message and "input_ids'].size()[1]" in message
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(**case.inputs(2, 10))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*stays dynamic")
        chunks = strict_tracer.export(model, (), example, dynamic_shapes={
            "input_ids": {0: Dim.DYNAMIC, 1: 4 * Dim("chunks")}})
    inputs = case.inputs(3, 4)
    with torch.no_grad():
        assert_same(chunks.module()(**inputs), model(**inputs), atol=1e-4, rtol=1e-4)
