"""The shape-guard engine on its own: symbols, guards, replacements, ranges, facts, unbacked."""
import math

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from strict_tracer.symbolic import CheckFailed, DataDependentError, ShapeEnv, SymInt
from strict_tracer.symbolic.ranges import bound_relaxing_floors, bound, decide


def _sizes(env, *hints):
    return [env.create_symbol(h, f"d{i}") for i, h in enumerate(hints)]


def test_tutorial_guards_become_replacements_and_ranges():
    # The guards of the tutorial's DynamicModel, in the order tracing emits them.
    env = ShapeEnv()
    w0, w1, x0, y0, y1, z0 = _sizes(env, 6, 5, 4, 8, 4, 32)
    assert w0 <= 512
    assert x0 >= 4
    assert w0 == x0 + 2
    assert x0 == y1
    assert w1 == 5
    assert y0 * x0 == z0
    rep = env.replacements
    assert rep[w0.expr] == x0.expr + 2          # s0 -> s2 + 2
    assert rep[y1.expr] == x0.expr              # s4 -> s2
    assert rep[w1.expr] == 5                    # s1 -> 5
    assert rep[z0.expr] == x0.expr * y0.expr    # s5 -> s2*s3
    assert env.range_of(x0.expr) == (4, 510)    # from s0 <= 512 through s0 = s2 + 2
    assert len(env.guards) == 6


def test_decisions_from_ranges_record_no_guard():
    env = ShapeEnv()
    (a,) = _sizes(env, 5)
    assert a >= 2                   # every size symbol is >= 2
    assert a != 1
    assert not (a < 0)
    assert env.guards == []
    assert (a * 2) % 2 == 0         # sympy folds it
    assert env.guards == []


def test_hint_decides_and_the_negation_is_recorded():
    env = ShapeEnv()
    (a,) = _sizes(env, 5)
    assert not (a > 7)
    assert env.range_of(a.expr) == (2, 7)
    assert a > 1                    # static now
    assert len(env.guards) == 1


def test_specialization_by_int_conversion():
    env = ShapeEnv()
    (a, b) = _sizes(env, 3, 4)
    assert int(a) == 3
    assert env.resolve(a.expr) == 3
    assert list(range(b)) == [0, 1, 2, 3]
    assert env.resolve(b.expr) == 4


def test_divisibility_is_a_fact():
    env = ShapeEnv()
    (a,) = _sizes(env, 6)
    assert a % 2 == 0
    assert env.static_value(sympy.Eq(sympy.Mod(a.expr, 2), 0)) is True
    assert a.expr not in env.replacements


def test_nonzero_factors_cancel_before_solving():
    env = ShapeEnv()
    a, b = _sizes(env, 3, 10)
    assert a * 10 == a * b          # x.view(a, 2, 5) of an [a, b] tensor
    assert env.resolve(b.expr) == 10


def test_facts_decide_by_constant_offsets():
    env = ShapeEnv()
    a, b = _sizes(env, 3, 9)
    assert a + 1 < b
    assert env.static_value(sympy.Lt(a.expr, b.expr)) is True
    assert env.static_value(sympy.Ge(a.expr + 5, b.expr + 6)) is False


def test_unbacked_needs_facts():
    env = ShapeEnv()
    u = env.create_unbacked("x.item()")
    with pytest.raises(DataDependentError):
        bool(u >= 0)
    env.check(sympy.Ge(u.expr, 10))
    env.check(sympy.Le(u.expr, 60))
    assert env.range_of(u.expr) == (10, 60)
    assert u // 2 >= 5              # decided by the range, no hint needed
    with pytest.raises(DataDependentError) as info:
        int(u)
    assert info.value.kind == "specialize"
    with pytest.raises(CheckFailed):
        env.check(sympy.Gt(u.expr, 100))
    assert [g.kind for g in env.runtime_asserts] == ["check", "check"]


def test_unbacked_relations_with_sizes():
    env = ShapeEnv()
    (n,) = _sizes(env, 60)
    u = env.create_unbacked("x.item()")
    env.check(sympy.Ge(u.expr, 0))
    env.check(sympy.Lt(u.expr, n.expr))
    assert u < n
    assert u >= -n
    assert u - n < 0


def test_unbacked_replaced_by_an_expression_gets_a_hint():
    env = ShapeEnv()
    (n,) = _sizes(env, 6)
    u = env.create_unbacked("x.item()")
    env.check(sympy.Eq(u.expr, n.expr + 4))
    assert env.resolve(u.expr) == n.expr + 4
    assert u > 3                    # decided through the replacement, hint 10


def test_size_oblivious():
    env = ShapeEnv()
    u = env.create_unbacked("nonzero count", lower=0, size_like=True)
    assert env.evaluate_size_oblivious(sympy.Eq(u.expr, 1)) is False
    with pytest.raises(DataDependentError):
        bool(u == 1)


def test_named_symbols_survive_equalities():
    env = ShapeEnv()
    a, b = _sizes(env, 4, 4)
    env.symbols[a.expr].keep = 2
    assert b == a
    assert env.resolve(b.expr) == a.expr     # the kept symbol survives even though created first


def test_sympy_stays_off_static_paths():
    # Python ints never become symbolic values.
    env = ShapeEnv()
    assert not isinstance(3 * 4, SymInt)
    assert env.guards == [] and env.symbols == {}


@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(-20, 20), st.integers(-20, 20),
       st.sampled_from(["add", "mul", "floordiv", "mod", "max"]))
def test_bounds_contain_every_value(lo1, hi1, lo2, hi2, op):
    lo1, hi1 = min(lo1, hi1), max(lo1, hi1)
    lo2, hi2 = min(lo2, hi2), max(lo2, hi2)
    x, y = sympy.symbols("x y", integer=True)
    ranges = {x: (lo1, hi1), y: (lo2, hi2)}
    if op in ("floordiv", "mod") and lo2 <= 0:
        lo2 = 1
        hi2 = max(hi2, 1)
        ranges[y] = (lo2, hi2)
    exprs = {"add": x + y, "mul": x * y, "floordiv": sympy.floor(x / y), "mod": sympy.Mod(x, y),
             "max": sympy.Max(x, y)}
    lo, hi = bound(exprs[op], ranges.__getitem__)
    for vx in range(lo1, hi1 + 1):
        for vy in range(lo2, hi2 + 1):
            v = exprs[op].subs({x: vx, y: vy})
            assert lo <= v <= hi


def test_decide_relations_from_ranges():
    x = sympy.Symbol("x", integer=True)
    r = {x: (2, math.inf)}.__getitem__
    assert decide(sympy.Ge(x, 2), r) is True
    assert decide(sympy.Eq(x, 1), r) is False
    assert decide(sympy.Lt(x, 5), r) is None


@given(st.integers(2, 6), st.integers(-3, 3), st.integers(2, 30), st.integers(0, 30))
def test_floor_terms_are_bounded_with_their_symbol(k, c, lo, width):
    # s - c*floor(s/k) (and the ceiling form): the relaxed bound must contain every value,
    # and for c == 1 (s - s//k >= 0) it must prove the fact plain interval arithmetic cannot.
    s = sympy.Symbol("s", integer=True, positive=True)
    hi = lo + width
    for term in (sympy.floor(s / k), sympy.ceiling(s / k)):
        expr = s - c * term
        low, high = bound(expr, lambda _: (lo, hi))
        rlow, rhigh = bound_relaxing_floors(expr, lambda _: (lo, hi))
        values = [int(expr.subs(s, v)) for v in range(lo, hi + 1)]
        assert rlow <= min(values) and max(values) <= rhigh
        assert low <= rlow and rhigh <= high
    assert decide(sympy.Ge(s - sympy.floor(s / k), 0), lambda _: (lo, hi)) is True


def test_floor_of_a_negative_constant_over_a_size():
    t = sympy.Symbol("t", integer=True)     # no sign assumption: the range must decide it
    for lo, hi in [(1, math.inf), (1, 7), (3, 9)]:
        assert decide(sympy.Eq(sympy.floor(-1 / t) + 1, 0), lambda _: (lo, hi)) is True
        assert bound(sympy.floor(-3 / t), lambda _: (lo, hi))[1] == -1
