"""Float arithmetic on sizes (SymFloat) as torch's symbolic semantics: `/`, floor, ceil,
trunc, round, comparisons, casts, sqrt, sym_ite; each program against eager at several sizes
and against torch.export where it exports."""
from __future__ import annotations

import io
import math

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError, GraphBreakError

SIZES = (3, 4, 7, 10, 13)


def module(fn):
    class Program(torch.nn.Module):
        def forward(self, x):
            return fn(x)
    Program.__name__ = fn.__name__
    return Program()


def half_rounded(x):
    return x[: round(x.shape[0] / 2)]


def same_padding(x):                    # timm's pad_same: ceil(size / stride) on a dynamic size
    stride, kernel = 4, 3
    pad = max((math.ceil(x.shape[1] / stride) - 1) * stride + kernel - x.shape[1], 0)
    return torch.cat([x, x.new_zeros(x.shape[0], pad)], 1)


def timm_pad_same(x):                   # timm.layers.padding.pad_same, kernel 3, stride 2
    pad_h = max((math.ceil(x.shape[-2] / 2) - 1) * 2 + 3 - x.shape[-2], 0)
    pad_w = max((math.ceil(x.shape[-1] / 2) - 1) * 2 + 3 - x.shape[-1], 0)
    return torch.nn.functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


def floored_third(x):
    return x[: math.floor(x.shape[0] / 3)] * 2


def truncated_third(x):
    return x[: math.trunc(x.shape[0] / 3)] + 1


def ceil_of_float_multiple(x):          # XLNet's relative positions: ceil(2.0 * length)
    return torch.arange(0, math.ceil(x.shape[0] * 2.0), dtype=torch.float) + x.sum()


def float_compare(x):
    return x + 1 if x.shape[0] / 2 > 1.0 else x - 1


def float_times_size(x):
    return x * (x.shape[0] / 2 * x.shape[1])


def float_stays_float(x):               # n / 2 * 2 is a float: int64 * float -> float32
    return torch.arange(3) * (x.shape[0] / 2 * 2)


def casts_and_sqrt(x):
    scale = torch.sym_sqrt(x.shape[0]) + torch.sym_float(x.shape[1]) / 3
    return x * scale + x.shape[0] ** 0.5


def sym_int_of_ratio(x):
    return x[: torch.sym_int(x.shape[0] / 2)]


def ite_and_minmax(x):
    n = torch.sym_ite(x.shape[0] > x.shape[1], x.shape[0], x.shape[1])
    return x.new_ones(n + torch.sym_max(x.shape[0], 5) - torch.sym_min(x.shape[1], 3))


def floor_and_mod_of_float(x):
    f = x.shape[0] / 3
    return x.new_zeros(math.trunc(f // 1) + math.ceil(f % 1.5 * 2))


EXPORTABLE = [half_rounded, same_padding, timm_pad_same, floored_third, truncated_third,
              ceil_of_float_multiple, float_compare, float_times_size, float_stays_float,
              casts_and_sqrt, sym_int_of_ratio, ite_and_minmax, floor_and_mod_of_float]


def _spec(dim0=Dim.DYNAMIC, dim1=Dim.AUTO):
    return {"x": {0: dim0, 1: dim1}}


@pytest.mark.parametrize("fn", EXPORTABLE, ids=lambda f: f.__name__)
def test_float_size_arithmetic_matches_eager_at_every_size(fn):
    model = module(fn)
    ep = strict_tracer.export(model, (torch.randn(10, 6),), dynamic_shapes=_spec())
    for n in SIZES:
        x = torch.randn(n, 5)
        if fn is float_compare and n < 3:
            continue
        got, want = ep.module()(x), model(x)
        assert got.dtype == want.dtype and got.shape == want.shape, (n, got.shape, want.shape)
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("fn", [half_rounded, same_padding, timm_pad_same, ceil_of_float_multiple,
                                sym_int_of_ratio, casts_and_sqrt], ids=lambda f: f.__name__)
def test_float_size_arithmetic_keeps_dims_torch_keeps(fn):
    model = module(fn)
    ours = strict_tracer.export(model, (torch.randn(10, 6),), dynamic_shapes=_spec())
    ref = torch.export.export(model, (torch.randn(10, 6),), dynamic_shapes=_spec())
    assert len(ours.range_constraints) == len(ref.range_constraints)
    for n in SIZES:
        x = torch.randn(n, 6)
        try:
            want = ref.module()(x)
        except AssertionError:      # torch guards sizes 0/1 of results (trunc(3/2) != 1)
            want = model(x)
        torch.testing.assert_close(ours.module()(x), want)


def test_int_of_a_float_size_specializes_as_torch_does():
    """int() must return a Python int: torch guards `n // 2 == 5`. On Dim.DYNAMIC that rules
    out every other size, so export refuses (naming the line) instead of shipping a program
    that only runs at n in {10, 11}; with Dim.AUTO it exports that program, like torch."""
    model = module(lambda x: x[: int(x.shape[0] / 2)])
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(model, (torch.randn(10, 3),), dynamic_shapes={"x": {0: Dim.DYNAMIC}})
    assert "test_symfloat.py" in str(info.value) and "int(x.shape[0] / 2)" in str(info.value)
    ep = strict_tracer.export(model, (torch.randn(10, 3),), dynamic_shapes={"x": {0: Dim.AUTO}})
    for n in (10, 11):
        x = torch.randn(n, 3)
        torch.testing.assert_close(ep.module()(x), model(x))
    with pytest.raises(Exception, match="Guard failed"):
        ep.module()(torch.randn(12, 3))


def test_round_with_a_named_dim_is_a_constraint_violation_like_torch():
    """ExportDB's dynamic_shape_round: torch raises a constraint violation for a named Dim."""
    model = module(half_rounded)
    spec = {"x": {0: Dim("dim0_x")}}
    with pytest.raises(Exception, match="Constraints violated"):
        torch.export.export(model, (torch.randn(3, 2),), dynamic_shapes=spec)
    with pytest.raises(ConstraintViolationError):
        strict_tracer.export(model, (torch.randn(3, 2),), dynamic_shapes=spec)


def test_float_of_a_size_specializes_like_torch():
    model = module(lambda x: x * float(x.shape[0]))
    with pytest.raises(ConstraintViolationError, match="specialized it to be a constant"):
        strict_tracer.export(model, (torch.randn(4, 2),), dynamic_shapes={"x": {0: Dim.DYNAMIC}})


def test_int_of_a_data_dependent_float_is_a_located_refusal():
    model = module(lambda x: sum(x[i] for i in range(int(x.abs().sum().item()))))
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(model, (torch.randn(4, 2),))
    text = str(info.value)
    assert "data-dependent" in text and "test_symfloat.py" in text


def test_graph_forms_are_torch_sym_operators_and_serialize():
    """ceil of a ratio is exact integer arithmetic, casts/sqrt/ite/min/max are torch.sym_*:
    every node is one torch.export's serializer accepts."""
    def forms(x):
        n, m = x.shape
        k = math.ceil(n / 4) + n % 3 + torch.sym_max(n, m) + torch.sym_min(n, m)
        scale = torch.sym_sqrt(n) * torch.sym_float(m) + torch.sym_ite(n > m, 1.0, 2.0)
        return x.new_zeros(k) + scale
    model = module(forms)
    ep = strict_tracer.export(model, (torch.randn(10, 6),),
                              dynamic_shapes={"x": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}})
    targets = {n.target for n in ep.graph.nodes if n.op == "call_function"}
    assert {torch.sym_sqrt, torch.sym_float, torch.sym_ite, torch.sym_max, torch.sym_min} <= targets
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    for n, m in ((10, 6), (5, 9), (13, 2)):
        x = torch.randn(n, m)
        torch.testing.assert_close(loaded.module()(x), model(x))


@pytest.mark.slow
def test_xlnet_relative_positions_export_dynamic():
    """XLNet's relative position encoding computes sizes from float arithmetic on the
    sequence length (it crashed with "cannot compute ceiling(2.0*s1) in the graph")."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.XLNetConfig(d_model=32, n_layer=2, n_head=4, d_inner=37, vocab_size=100)
    model = transformers.XLNetModel(config).eval()
    spec = {"input_ids": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}}
    ep = strict_tracer.export(model, (), {"input_ids": torch.randint(0, 100, (2, 8))},
                              dynamic_shapes=spec)
    for batch, length in ((3, 5), (1, 11), (4, 7)):
        ids = torch.randint(0, 100, (batch, length))
        torch.testing.assert_close(ep.module()(input_ids=ids).last_hidden_state,
                                   model(input_ids=ids).last_hidden_state)
