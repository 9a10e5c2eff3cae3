"""A ResNet-style CNN (strided stem, max pool, residual blocks with projection shortcuts,
batch norm in eval, in-place ReLU, adaptive pooling, classifier), static and with dynamic
batch, height and width, against eager and torch.export strict."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.export_compare import assert_captures_like_torch_export
from support.helpers import assert_same
from support.resnet_model import resnet_model


@pytest.mark.parametrize("dynamic", [pytest.param(False, marks=pytest.mark.slow), True],
                         ids=["static", "dynamic"])
def test_resnet_matches_eager_and_torch_export(dynamic):
    model = resnet_model()
    x = torch.randn(2, 3, 32, 32)
    dynamic_shapes = ({0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC},) if dynamic else None
    ep = strict_tracer.export(model, (x,), dynamic_shapes=dynamic_shapes)
    fresh = [torch.randn(3, 3, 20, 44), torch.randn(1, 3, 33, 17)] if dynamic else []
    for inp in [x, *fresh]:
        with torch.no_grad():
            assert_same(ep.module()(inp.clone()), model(inp.clone()), atol=1e-4, rtol=1e-4)
    assert_captures_like_torch_export(model, (x,), dynamic_shapes=dynamic_shapes)
