"""export(..., prefer_deferred_runtime_asserts_over_guards=True): a guard no replacement or
range absorbs becomes an `aten._assert_scalar` node in the program instead of an input guard
(so a relation between named Dims is checked at run time, not refused), each size value is
computed once, and the program raises on inputs that break the relation."""
import operator

import pytest
import sympy
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError
from strict_tracer.symbolic import ShapeEnv

ASSERT = torch.ops.aten._assert_scalar.default


class SquaresBand(torch.nn.Module):
    """Branches on a non-linear relation of two dims (three comparisons of one value)."""

    def forward(self, a, b):
        gap = a.shape[0] * a.shape[0] - b.shape[0] * b.shape[0]
        if gap >= 5 and gap <= 40 and gap != 17:
            return a.sum() - b.sum()
        return a.sum()


class Flattened(torch.nn.Module):
    def forward(self, m, v):
        return m.flatten() * 3 + v


SQUARES_SPEC = {"a": (Dim("da"),), "b": (Dim("db"),)}
# min=2: at m0 = m1 = 1, m.flatten() has one element and broadcasts against v in eager, where
# the program asserts m0 * m1 == n (from 0 up, the export is refused: tests/packaging/
# test_small_size_check.py).
FLAT_SPEC = {"m": (Dim("m0", min=2), Dim("m1", min=2)), "v": (Dim("n", min=4),)}


def _targets(ep):
    return [n.target for n in ep.graph.nodes if n.op == "call_function"]


def test_a_relation_of_named_dims_becomes_runtime_asserts():
    mod, args = SquaresBand(), (torch.randn(6), torch.randn(4))      # gap 20
    ep = strict_tracer.export(mod, args, dynamic_shapes=SQUARES_SPEC,
                              prefer_deferred_runtime_asserts_over_guards=True)
    targets = _targets(ep)
    assert targets.count(ASSERT) == 3
    assert targets.count(torch.ops.aten.sym_size.int) == 2          # each size read once
    assert targets.count(operator.pow) == 2 and targets.count(operator.sub) == 1
    for sizes in [(6, 4), (7, 5), (3, 2)]:                          # gaps 20, 24, 5
        inputs = tuple(torch.randn(n) for n in sizes)
        torch.testing.assert_close(ep.module()(*inputs), mod(*inputs))
    for sizes in [(9, 8), (7, 1 + 1), (9, 1 + 7)]:                  # gaps 17, 45, 17
        with pytest.raises(RuntimeError, match=r"Runtime assertion failed for expression"):
            ep.module()(*(torch.randn(n) for n in sizes))


def test_without_the_flag_the_same_relation_is_a_constraint_violation():
    with pytest.raises(ConstraintViolationError, match="da"):
        strict_tracer.export(SquaresBand(), (torch.randn(6), torch.randn(4)),
                             dynamic_shapes=SQUARES_SPEC)


def test_the_asserts_survive_run_decompositions():
    ep = strict_tracer.export(SquaresBand(), (torch.randn(6), torch.randn(4)),
                              dynamic_shapes=SQUARES_SPEC,
                              prefer_deferred_runtime_asserts_over_guards=True)
    decomposed = ep.run_decompositions()
    assert _targets(decomposed).count(torch.ops.aten.sym_size.int) == 2
    assert _targets(decomposed).count(operator.pow) == 2
    # torch's retrace may turn an assert into an input guard: checked either way.
    with pytest.raises((RuntimeError, AssertionError), match="failed"):
        decomposed.module()(torch.randn(9), torch.randn(8))


def test_a_product_of_dims_is_an_assert_with_the_flag_and_an_input_guard_without():
    mod, args = Flattened(), (torch.randn(3, 4), torch.randn(12))
    deferred = strict_tracer.export(mod, args, dynamic_shapes=FLAT_SPEC,
                                    prefer_deferred_runtime_asserts_over_guards=True)
    guarded = strict_tracer.export(mod, args, dynamic_shapes=FLAT_SPEC)
    assert ASSERT in _targets(deferred) and ASSERT not in _targets(guarded)
    good = (torch.randn(5, 2), torch.randn(10))
    for ep in (deferred, guarded):
        torch.testing.assert_close(ep.module()(*good), mod(*good))
    bad = (torch.randn(5, 2), torch.randn(12))
    with pytest.raises(RuntimeError, match=r"Runtime assertion failed for expression Eq\("):
        deferred.module()(*bad)
    with pytest.raises(AssertionError, match="Guard failed"):
        guarded.module()(*bad)


def test_an_equality_of_two_named_dims_is_still_a_violation():
    class Add(torch.nn.Module):
        def forward(self, a, b):
            return a + b

    with pytest.raises(ConstraintViolationError, match="must always be equal"):
        strict_tracer.export(Add(), (torch.randn(4), torch.randn(4)),
                             dynamic_shapes={"a": (Dim("p"),), "b": (Dim("q"),)},
                             prefer_deferred_runtime_asserts_over_guards=True)


def test_a_backed_check_is_deferred_too():
    class Checked(torch.nn.Module):
        def forward(self, a, b):
            torch._check(a.shape[0] * b.shape[0] < 100)
            return a.sum() + b.sum()

    ep = strict_tracer.export(Checked(), (torch.randn(4), torch.randn(5)),
                              dynamic_shapes={"a": (Dim("p"),), "b": (Dim("q"),)},
                              prefer_deferred_runtime_asserts_over_guards=True)
    assert _targets(ep).count(ASSERT) == 1
    ep.module()(torch.randn(9), torch.randn(11))
    with pytest.raises(RuntimeError, match="Runtime assertion failed"):
        ep.module()(torch.randn(10), torch.randn(10))


def test_shape_env_defers_what_no_replacement_or_range_absorbs():
    env = ShapeEnv(defer_guards=True)
    a, b, c = (env.create_symbol(h, f"x{i}").expr for i, h in enumerate((3, 4, 12)))
    assert env.evaluate(sympy.Eq(a * b, c), None) is True
    assert env.replacements == {} and env.guards == []
    assert [g.expr for g in env.runtime_asserts] == [sympy.Eq(a * b, c)]
    assert env.evaluate(sympy.Eq(a * b, c), None) is True           # known now: asserted once
    assert len(env.runtime_asserts) == 1
    assert env.evaluate(sympy.Ge(a, 3), None) is True                # a range: absorbed
    assert env.range_of(a)[0] == 3 and len(env.runtime_asserts) == 1
    assert env.evaluate(sympy.Eq(c, 4 * a), None) is True            # a Dim's form: replaced
    assert env.replacements[c] == 4 * a and len(env.runtime_asserts) == 1


def test_a_dim_equal_to_a_product_must_admit_its_values():
    """v == m0*m1 is at least 4: a Dim declared from 2 is told to start at 4, as by torch."""
    spec = {"m": (Dim("m0"), Dim("m1")), "v": (Dim("n", max=50),)}
    args = (torch.randn(3, 4), torch.randn(12))
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(Flattened(), args, dynamic_shapes=spec)
    with pytest.raises(torch._dynamo.exc.UserError) as theirs:
        torch.export.export(Flattened(), args, dynamic_shapes=spec, strict=True)
    lines = [line for line in str(theirs.value).splitlines() if "Not all values" in line or
             "Dim('n'" in line]
    assert lines and all(line in str(ours.value) for line in lines)
