"""Real architectures: tiny randomly initialised Hugging Face models, static and dynamic.

Each export is checked against eager on the example and (dynamic) on fresh inputs of other
batch sizes and sequence lengths, and against torch.export strict (export_compare): the
same live ATen ops, ranges for every dynamic input dim, and inputs. One static and one
dynamic case run by default; the rest are `slow` (`pytest -m slow`).
"""
from __future__ import annotations


import pytest
import torch

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("quiet_transformers")

import strict_tracer  # noqa: E402
from support.export_compare import assert_captures_like_torch_export  # noqa: E402
from support.helpers import assert_same  # noqa: E402
from strict_tracer.testing.hf_models import CASES, build  # noqa: E402

DEFAULT_RUN = {("vit", "static"), ("bert", "dynamic")}


def _params():
    for name in CASES:
        for mode in ("static", "dynamic"):
            marks = () if (name, mode) in DEFAULT_RUN else (pytest.mark.slow,)
            yield pytest.param(name, mode, marks=marks, id=f"{name}-{mode}")


@pytest.mark.parametrize("name, mode", list(_params()))
def test_hf_model_matches_eager_and_torch_export(name, mode):
    case = CASES[name]
    model = build(name)
    example = case.inputs(*case.example_size)
    dynamic_shapes = case.dynamic() if mode == "dynamic" else None
    ep = strict_tracer.export(model, (), example, dynamic_shapes=dynamic_shapes)

    sizes = [case.example_size] + (list(case.fresh_sizes) if dynamic_shapes else [])
    program = ep.module()
    for size in sizes:
        inputs = case.inputs(*size)
        with torch.no_grad():
            assert_same(program(**inputs), model(**inputs))

    assert_captures_like_torch_export(model, (), example, dynamic_shapes)


def test_static_program_rejects_other_sizes():
    case = CASES["vit"]
    ep = strict_tracer.export(build("vit"), (), case.inputs(*case.example_size))
    with pytest.raises(Exception, match="pixel_values"):
        ep.module()(**case.inputs(3, 0))
