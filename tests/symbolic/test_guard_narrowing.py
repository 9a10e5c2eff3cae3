"""A guard that rules out sizes of a dimension declared dynamic is never an assertion the
exported program makes silently. On a named Dim (or derived) it is a ConstraintViolationError
naming the guard and the line. On Dim.DYNAMIC (torch.export's contract: relations are
inferred, an error only on specialization) it is a violation when it leaves finitely many
sizes (`x.view(64)`: torch.export exports a program that fails at every other size), and
otherwise a warning naming it while the program checks it at run time (`size % 2 == 0`),
as torch.export's does."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError


def module(fn):
    class Program(torch.nn.Module):
        def forward(self, x):
            return fn(x)
    return Program()


def view_to_constant(x):
    return x.view(64) + 1


def branch_on_product(x):
    if x.shape[0] * x.shape[1] == 64:
        return x + 1
    return x - 1


def branch_on_parity(x):
    if x.shape[0] % 2 == 0:
        return x + 1
    return x - 1


def branch_on_square(x):
    return x * 2 if x.shape[0] ** 2 == 64 else x


def bounded_product(x):
    return x.sum() if x.shape[0] * x.shape[1] <= 1000 else x.mean()


def chunked(x):
    return x.reshape(-1, 4, x.shape[1]).sum(1)      # guards `x0 % (x0 // 4) == 0`, ...


BOTH_DYNAMIC = {"x": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}}
NARROWING = [(view_to_constant, "x.view(64)"), (branch_on_product, "x.shape[0] * x.shape[1] == 64"),
             (branch_on_square, "x.shape[0] ** 2 == 64"),
             (bounded_product, "x.shape[0] * x.shape[1] <= 1000")]
KEPT_DYNAMIC = [(branch_on_parity, "x.shape[0] % 2 == 0", (6, 3), (5, 3)),
                (chunked, "x.reshape(-1, 4, x.shape[1])", (12, 5), (10, 5))]


@pytest.mark.parametrize("fn,line", NARROWING, ids=[f.__name__ for f, _ in NARROWING])
def test_a_narrowing_guard_on_dim_dynamic_is_a_located_violation(fn, line):
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(module(fn), (torch.randn(8, 8),), dynamic_shapes=BOTH_DYNAMIC)
    text = str(info.value)
    assert "satisfy the generated guard" in text and "no input with L['x'].size()" in text
    assert "test_guard_narrowing.py" in text and line in text, text


@pytest.mark.parametrize("fn,line,fresh,rejected", KEPT_DYNAMIC,
                         ids=[case[0].__name__ for case in KEPT_DYNAMIC])
def test_a_guard_that_keeps_dim_dynamic_is_checked_at_run_time_with_a_warning(fn, line, fresh,
                                                                              rejected):
    with pytest.warns(UserWarning, match="stays dynamic") as record:
        ep = strict_tracer.export(module(fn), (torch.randn(8, 8),), dynamic_shapes=BOTH_DYNAMIC)
    text = str(record[0].message)
    assert "test_guard_narrowing.py" in text and line in text, text
    assert len([w for w in record if "stays dynamic" in str(w.message)]) == 1
    ref = torch.export.export(module(fn), (torch.randn(8, 8),), dynamic_shapes=BOTH_DYNAMIC)
    x = torch.randn(*fresh)
    torch.testing.assert_close(ep.module()(x), fn(x))
    torch.testing.assert_close(ref.module()(x), fn(x))
    for program in (ep.module(), ref.module()):
        with pytest.raises(AssertionError, match="Guard failed"):
            program(torch.randn(*rejected))


def test_torch_export_narrows_the_same_program_silently():
    """The behaviour this rule replaces: torch.export accepts, and its program fails at
    every size but the example's."""
    ep = torch.export.export(module(view_to_constant), (torch.randn(8, 8),),
                             dynamic_shapes=BOTH_DYNAMIC)
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(4, 4))


def test_named_dims_related_by_a_narrowing_guard_are_violations():
    spec = {"x": {0: Dim("a"), 1: Dim("b")}}
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(module(view_to_constant), (torch.randn(8, 8),), dynamic_shapes=spec)
    assert "Constraints violated (a, b)" in str(info.value)


def test_a_guard_on_one_dim_gets_an_exact_fix():
    with pytest.warns(UserWarning, match="stays dynamic") as record:
        strict_tracer.export(module(branch_on_parity), (torch.randn(8, 8),),
                             dynamic_shapes={"x": {0: Dim.DYNAMIC}})
    assert "_d = Dim('_d', min=1); d = 2*_d" in str(record[0].message)
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(module(branch_on_square), (torch.randn(8, 8),),
                             dynamic_shapes={"x": {0: Dim.DYNAMIC}})
    assert "(e.g. d = 8)" in str(info.value)      # finitely many sizes: a violation


def test_a_derived_dim_narrowed_through_its_root_is_a_violation():
    a = Dim("a", min=2, max=64)

    class Program(torch.nn.Module):
        def forward(self, x, y):
            if y.shape[0] % 4 == 0:
                return x.sum() + y.sum()
            return x.sum() - y.sum()
    spec = {"x": {0: a}, "y": {0: 2 * a}}
    with pytest.raises(ConstraintViolationError, match="% 2"):
        strict_tracer.export(Program(), (torch.randn(6), torch.randn(12)), dynamic_shapes=spec)


@pytest.mark.parametrize("spec", [{"x": {0: Dim.AUTO, 1: Dim.AUTO}}, None],
                         ids=["auto", "static"])
def test_auto_and_static_dims_may_be_narrowed_like_torch(spec):
    model = module(branch_on_product)
    ep = strict_tracer.export(model, (torch.randn(8, 8),), dynamic_shapes=spec)
    ref = torch.export.export(model, (torch.randn(8, 8),), dynamic_shapes=spec)
    torch.testing.assert_close(ep.module()(torch.randn(8, 8) * 0 + 1), ref.module()(torch.ones(8, 8)))
    if spec is not None:
        assert len(ep.range_constraints) == len(ref.range_constraints) == 2
        with pytest.raises(AssertionError, match="Guard failed"):
            ep.module()(torch.randn(4, 4))


class Relations(torch.nn.Module):
    def forward(self, x, y):
        out = x.sum() + y.sum()
        if x.shape[0] >= y.shape[0]:                 # relates two dims, narrows neither
            out = out + 1
        if (x.shape[0] * y.shape[0]) % 2 == 0:       # likewise: x = 3 still has y = 4
            out = out * 2
        if x.shape[0] > 3:                           # narrows x to [4, oo): its reported range
            out = out - 1
        if x.shape[0] // 2 >= 2:                     # the same bound through floor division
            out = out + 3
        return out


def test_relations_and_reported_ranges_export_on_dim_dynamic():
    spec = {"x": {0: Dim.DYNAMIC}, "y": {0: Dim.DYNAMIC}}
    args = (torch.randn(6), torch.randn(4))
    ep = strict_tracer.export(Relations(), args, dynamic_shapes=spec)
    ranges = sorted((int(vr.lower), str(vr.upper)) for vr in ep.range_constraints.values())
    assert ranges == [(2, "int_oo"), (4, "int_oo")]
    for n, m in ((4, 2), (9, 4), (12, 12), (30, 7)):
        x, y = torch.randn(n), torch.randn(m)
        torch.testing.assert_close(ep.module()(x, y), Relations()(x, y))


def test_torch_check_states_a_contract_dim_dynamic_accepts():
    """A condition the program checks itself (torch._check) is not narrowed silently: the
    program states it, and torch.export accepts it on Dim.DYNAMIC as well."""
    def checked(x):
        torch._check(x.shape[0] % 2 == 0)
        return x * 2
    ep = strict_tracer.export(module(checked), (torch.randn(6),), dynamic_shapes={"x": {0: Dim.DYNAMIC}})
    torch.testing.assert_close(ep.module()(torch.ones(10)), torch.full((10,), 2.0))
    with pytest.raises(AssertionError):
        ep.module()(torch.ones(7))


def test_refutation_proves_only_what_holds():
    """The proofs behind the rule, on a ShapeEnv: each refutes an unsatisfiable guard and
    leaves a satisfiable one alone (checked by brute force over small sizes)."""
    import itertools

    import sympy

    from strict_tracer.symbolic import ShapeEnv
    from strict_tracer.symbolic.narrowing import refuted

    env = ShapeEnv()
    m, k = env.create_symbol(4, "m").expr, env.create_symbol(6, "k").expr
    cases = [
        sympy.Eq(6 * m * k, 64),                      # gcd 6 does not divide 64
        sympy.Eq(8 * m * k, 64),                      # m*k = 8: (2, 4)
        sympy.Eq(m ** 2 - 5 * m + 6, 0),              # roots 2 and 3
        sympy.Eq(m ** 2, 50),                         # no integer root
        sympy.Eq(sympy.Mod(6 + 4 * m, 8), 0),         # 4m = 2 (mod 8): never
        sympy.Eq(sympy.Mod(4 + 4 * m, 8), 0),         # m odd
        sympy.Le(1009 * m, 64),                       # the ranges decide it
        sympy.Eq(sympy.floor(m / 3), 1),              # m in 3..5
    ]
    for fact in cases:
        holds_somewhere = any(fact.xreplace({m: a, k: b}) is sympy.true
                              for a, b in itertools.product(range(2, 40), repeat=2))
        if holds_somewhere:
            assert not refuted(fact, env.range_of), fact
    assert [refuted(f, env.range_of) for f in cases] == [True, False, False, True, True, False,
                                                         True, False]
