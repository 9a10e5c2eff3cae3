"""The kernel fallback: ops without a hand-written shape rule keep their dims dynamic.

Each case is exported with every input dim `Dim.AUTO` (and, where torch.export keeps them all
dynamic, with `Dim.DYNAMIC`), by strict_tracer and by torch.export (the reference): the same
input dims stay symbolic, and the program matches eager at two other sizes.
"""
from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from torch.export import Dim

import strict_tracer
from support.helpers import assert_same
from strict_tracer.ops import shape_rules
from strict_tracer.ops.kernel_shapes import kernel_shapes
from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import ShapeEnv, SymValue
from strict_tracer.testing.resize import resized_inputs, symbolic_dims

aten = torch.ops.aten


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def _spec(args: tuple, kind) -> tuple:
    return tuple({d: kind for d in range(a.dim())} if isinstance(a, torch.Tensor) else None
                 for a in args)


def _check(fn, args: tuple, kind=Dim.AUTO, want_dynamic: set | None = None) -> None:
    """Export like torch.export (same symbolic dims), then match eager at other sizes."""
    mod = Fn(fn)
    spec = (_spec(args, kind),)
    ep = strict_tracer.export(mod, args, dynamic_shapes=spec)
    ref = torch.export.export(mod, args, dynamic_shapes=spec, strict=True)
    assert symbolic_dims(ep) == symbolic_dims(ref)
    if want_dynamic is not None:
        assert symbolic_dims(ep) == want_dynamic
    torch.manual_seed(0)
    assert_same(ep.module()(*args), mod(*args))
    compared = 0
    for step in (1, 3, 4, 8):
        moved = resized_inputs(ep, args, {}, step)
        assert moved is not None
        new_args, _ = moved
        try:
            want = mod(*new_args)
        except Exception:       # the op itself refuses these sizes (col2im: channels % 4)
            continue
        assert_same(ep.module()(*new_args), want)
        compared += 1
    assert compared >= 2


def _all_dims(*ndims: int) -> set:
    return {(i, d) for i, n in enumerate(ndims) for d in range(n)}


CASES = {
    "floor_divide": (lambda x: torch.floor_divide(x, 3), (torch.randn(4, 6) * 10,)),
    "histc": (lambda x: torch.histc(x, bins=5, min=-2, max=2), (torch.randn(4, 6),)),
    "tensor_split_indices": (lambda x: torch.tensor_split(x, [1, 3], dim=1), (torch.randn(4, 6),)),
    "im2col": (lambda x: F.unfold(x, 2, stride=2), (torch.randn(2, 3, 6, 8),)),
    "col2im": (lambda x: F.fold(x, (4, 5), 2), (torch.randn(2, 12, 12),)),
    "fft_fftn": (lambda x: torch.fft.fftn(x).abs(), (torch.randn(4, 6),)),
    "view_as_complex": (lambda x: torch.view_as_complex(x).abs(), (torch.randn(4, 3, 2),)),
    "broadcast_to": (lambda x, y: torch.broadcast_to(x, y.shape) + y,
                     (torch.randn(1, 6), torch.randn(4, 6))),
    "nonzero_as_tuple": (lambda x: torch.nonzero(x > 0, as_tuple=True), (torch.randn(4, 6),)),
    "repeat_interleave": (lambda x: torch.repeat_interleave(x, 2, dim=0), (torch.randn(4, 6),)),
    "repeat_interleave_tensor": (lambda x, r: torch.repeat_interleave(x, r, dim=0),
                                 (torch.randn(4, 6), torch.tensor([1, 2, 1, 3]))),
    "baddbmm": (lambda a, b, c: torch.baddbmm(a, b, c),
                (torch.randn(3, 4, 5), torch.randn(3, 4, 6), torch.randn(3, 6, 5))),
    "pad_sequence": (lambda x, y: torch.nn.utils.rnn.pad_sequence([x, y]),
                     (torch.randn(4, 6), torch.randn(3, 6))),
    # rules written with guards where torch's kernels build Max/Min (found by the property
    # test of rules against the fallback, tests/rules_harness.py)
    "diagonal_offset": (lambda x: x.diagonal(offset=3) * 2, (torch.randn(5, 9),)),
    "diff_past_the_end": (lambda x: torch.diff(x, n=3, dim=1), (torch.randn(4, 6),)),
    # a size passed as an op's argument (functionalization once specialized it)
    "adaptive_pool_size_argument": (lambda x: F.adaptive_avg_pool2d(x, (None, 7)),
                                    (torch.randn(2, 8, 8, 8),)),
    "moe_routing": (lambda x: torch.histc((x.flatten() * 4).floor_divide(1).float(), bins=4,
                                          min=0, max=3),
                    (torch.rand(2, 8),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_op_keeps_dims_like_torch_export(name):
    fn, args = CASES[name]
    _check(fn, args)


@pytest.mark.parametrize("name", ["floor_divide", "histc", "tensor_split_indices", "fft_fftn",
                                  "repeat_interleave", "baddbmm", "moe_routing"])
def test_declared_dynamic_dims_stay_dynamic(name):
    fn, args = CASES[name]
    _check(fn, args, Dim.DYNAMIC, _all_dims(*(a.dim() for a in args)))


# ---------------------------------------------------------------- the fallback itself
def _proxy(env: ShapeEnv, sizes: list, hints: dict, dtype=torch.float32) -> TensorProxy:
    syms = {}
    shape = []
    for s in sizes:
        if isinstance(s, str):
            if s not in syms:
                syms[s] = env.create_size(hints[s], s)
            shape.append(syms[s])
        else:
            shape.append(s)
    return TensorProxy(None, TensorMeta(tuple(shape), dtype, torch.device("cpu")))


def _exprs(shape) -> tuple:
    return tuple(str(s.expr) if isinstance(s, SymValue) else s for s in shape)


def test_fallback_gives_symbolic_shapes_and_no_guard():
    env = ShapeEnv()
    x = _proxy(env, ["a", "b"], {"a": 4, "b": 6})
    outputs = [TensorMeta((4, 6), torch.float32, torch.device("cpu"))]
    shapes = kernel_shapes(aten.floor_divide.default, (x, x), {}, outputs, env)
    assert [_exprs(s) for s in shapes] == [("s0", "s1")]
    assert env.guards == []


def test_fallback_translates_the_kernels_guards():
    # unfold (im2col) with kernel 3 needs each spatial size >= 3: torch's kernel checks it
    env = ShapeEnv()
    x = _proxy(env, [2, 3, "h", "w"], {"h": 6, "w": 8})
    outputs = [TensorMeta((2, 27, 24), torch.float32, torch.device("cpu"))]
    shapes = kernel_shapes(aten.im2col.default, (x, [3, 3], [1, 1], [0, 0], [1, 1]), {},
                           outputs, env)
    assert [_exprs(s) for s in shapes] == [(2, 27, "(s0 - 2)*(s1 - 2)")]
    assert env.range_of(x.meta.shape[2].expr)[0] >= 3
    assert env.range_of(x.meta.shape[3].expr)[0] >= 3


def test_fallback_names_data_dependent_sizes_like_the_oracle():
    env = ShapeEnv()
    x = _proxy(env, ["a", 3], {"a": 4}, torch.bool)
    oracle_size = env.create_unbacked("nonzero", lower=0, size_like=True)
    outputs = [TensorMeta((oracle_size, 2), torch.int64, torch.device("cpu"))]
    shapes = kernel_shapes(aten.nonzero.default, (x,), {}, outputs, env)
    assert shapes[0][0].expr == oracle_size.expr and shapes[0][1] == 2


def test_op_without_rule_uses_the_kernel_not_a_specialization(caplog):
    env = ShapeEnv()
    x = _proxy(env, ["a", "b"], {"a": 4, "b": 6})
    outputs = [TensorMeta((5,), torch.float32, torch.device("cpu"))]
    with caplog.at_level(logging.WARNING, logger="strict_tracer.shapes"):
        shape_rules.apply_rule(aten.histc.default, (x, 5), {}, outputs, env)
    assert outputs[0].shape == (5,) and env.guards == [] and "specializing" not in caplog.text
