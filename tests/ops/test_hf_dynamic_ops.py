"""Models whose dynamic shapes go through ops without a hand-written shape rule.

Mixture-of-experts routing (floor_divide, histc), Mamba's chunked scan (tensor_split), FNet's
FFT and ConvBERT's im2col once specialized the batch and sequence dims (a runtime assertion
like `2 * s1 * s0 == 64` in the program). Each tiny model exports with `Dim.DYNAMIC` batch and
sequence (Bamba: a sequence of `4 * Dim("chunks")`, see hf_models._bamba_dynamic) and matches
eager at three other sizes; the slow variant also checks that torch.export keeps the same
input dims symbolic.
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
def test_bamba_dynamic_length_is_narrowed_to_whole_chunks():
    """With a `Dim.DYNAMIC` length, Bamba's `if pad_size > 0:` guard (length % 4 == 0) is
    reported, with the derived-dim fix, rather than exported as a program that rejects 3 of
    every 4 lengths (torch.export's does, and rejects length 4 as well)."""
    from torch.export import Dim
    from strict_tracer.errors import ConstraintViolationError
    case = DYNAMIC_CASES["bamba"]
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(build("bamba"), (), case.inputs(*case.example_size),
                             dynamic_shapes={"input_ids": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}})
    message = str(info.value)
    assert "if pad_size > 0:" in message and "= 4*_d" in message
