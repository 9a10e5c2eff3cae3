"""Pointwise/broadcasting shape rules against the meta kernels (see rules_harness)."""
import sympy
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, sizes
from strict_tracer.ops.rules import find_rule
from strict_tracer.ops.rules.pointwise import pointwise

aten = torch.ops.aten

BINARY = [aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor, aten.div.Tensor, aten.eq.Tensor,
          aten.maximum.default, aten.pow.Tensor_Tensor, aten.__and__.Tensor, aten.atan2.default,
          aten.masked_fill.Tensor]
UNARY = [aten.gelu.default, aten.relu.default, aten.silu.default, aten.tanh.default,
         aten.clone.default, aten.to.dtype, aten.clamp.default, aten.rsub.Scalar,
         aten.masked_fill.Scalar, aten.where.ScalarOther, aten.pow.Scalar, aten.contiguous.default,
         aten.lift_fresh.default, aten.dropout.default, aten.gt.Scalar]


def _is_eq(expr, a: str, b: str) -> bool:
    return isinstance(expr, sympy.Eq) and {str(s) for s in expr.free_symbols} == {a, b}


def _broadcast_pair(draw):
    rank = draw(st.integers(1, 4))
    full = list("abcd"[:rank])
    left = [d if draw(st.booleans()) else 1 for d in full]
    right = [d if draw(st.booleans()) else 1 for d in full]
    right = right[draw(st.integers(0, rank)):]
    if draw(st.booleans()):
        left, right = right, left
    return left, right


@given(st.data())
def test_binary_broadcast(data):
    op = data.draw(st.sampled_from(BINARY))
    left, right = _broadcast_pair(data.draw)
    hints, dynamic = draw_case(data.draw, st)
    mask_dtype = torch.bool if op in (aten.__and__.Tensor,) else torch.float32

    def build(S, T):
        x = T(sizes(S, left), mask_dtype)
        y = T(sizes(S, right), torch.bool if op is aten.masked_fill.Tensor else mask_dtype)
        if op is aten.masked_fill.Tensor:
            return (x, y, T((), torch.float32)), {}
        return (x, y), {}
    result = check_rule(op, build, hints, dynamic)
    assert result["points"] > 0


@given(st.data())
def test_unary_and_scalar_variants(data):
    op = data.draw(st.sampled_from(UNARY))
    rank = data.draw(st.integers(0, 3))
    spec = list("abc"[:rank])
    hints, dynamic = draw_case(data.draw, st, "abc")

    def build(S, T):
        x = T(sizes(S, spec))
        extra = {aten.to.dtype: (torch.float16,), aten.clamp.default: (-1.0, 1.0),
                 aten.rsub.Scalar: (2,), aten.masked_fill.Scalar: None,
                 aten.where.ScalarOther: None, aten.pow.Scalar: None,
                 aten.dropout.default: (0.5, False), aten.gt.Scalar: (0,)}.get(op, ())
        if op is aten.masked_fill.Scalar:
            return (x, T(sizes(S, spec), torch.bool), 1.0), {}
        if op is aten.where.ScalarOther:
            return (T(sizes(S, spec), torch.bool), x, 0.0), {}
        if op is aten.pow.Scalar:
            return (2.0, x), {}
        return (x, *extra), {}
    result = check_rule(op, build, hints, dynamic)
    assert rank == 0 or result["points"] > 0


@given(st.data())
def test_ternary_where_and_inplace(data):
    hints, dynamic = draw_case(data.draw, st, "abc")
    cond, x = _broadcast_pair(data.draw)
    check_rule(aten.where.self, lambda S, T: (
        (T(sizes(S, cond), torch.bool), T(sizes(S, x)), T(())), {}), hints, dynamic)
    # In place: other must broadcast into self, whose shape is kept.
    full = ["a", "b", "c"][: max(len(cond), len(x), 1)]
    other = [d if data.draw(st.booleans()) else 1 for d in full][data.draw(st.integers(0, len(full))):]
    result = check_rule(aten.add_.Tensor, lambda S, T: ((T(sizes(S, full)), T(sizes(S, other))), {}),
                        hints, dynamic)
    assert result["points"] > 0


def test_distinct_symbols_that_broadcast_are_guarded_equal():
    result = check_rule(aten.add.Tensor, lambda S, T: ((T((S["a"], 3)), T((S["b"], 3))), {}),
                        {"a": 4, "b": 4})
    assert any(_is_eq(g.expr, "s0", "s1") for g in result["env"].guards)


def test_symbolic_size_against_one_is_guarded():
    result = check_rule(aten.mul.Tensor, lambda S, T: ((T((S["a"], 3)), T((S["b"], 3))), {}),
                        {"a": 4, "b": 4}, dynamic={"a"})
    assert result["shapes"] == [(result["shapes"][0][0], 3)]


def test_family_rule_covers_tagged_ops():
    for op in (aten.lerp.Scalar, aten.addcmul.default, aten.logical_not.default,
               aten.isnan.default, aten.float_power.Tensor_Tensor):
        assert find_rule(op) is pointwise
    assert find_rule(aten.cat.default) is not pointwise


def test_in_place_guards_other_to_self():
    result = check_rule(aten.add_.Tensor, lambda S, T: ((T((S["a"], 3)), T((S["b"], 3))), {}),
                        {"a": 4, "b": 4})
    assert result["shapes"][0][0].expr.name == "s0"
    assert any(_is_eq(g.expr, "s0", "s1") for g in result["env"].guards)
