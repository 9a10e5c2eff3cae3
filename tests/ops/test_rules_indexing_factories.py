"""Indexing, factory and data-dependent rules; the no-rule specialization fallback."""
import logging

import pytest
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, fewer, proxy_maker, sizes
from strict_tracer.errors import InternalTracerError
from strict_tracer.ops import shape_rules
from strict_tracer.proxy import TensorMeta
from strict_tracer.symbolic import ShapeEnv, SymValue

aten = torch.ops.aten


@given(st.data())
def test_advanced_indexing(data):
    hints, dynamic = draw_case(data.draw, st, "abcdij")
    rank = data.draw(st.integers(1, 4))
    spec = list("abcd"[:rank])
    n_idx = data.draw(st.integers(1, rank))
    idx_shapes = [data.draw(st.sampled_from([None, ["i"], ["i", "j"], [1, "j"], ["j"], []]))
                  for _ in range(n_idx)]
    if all(s is None for s in idx_shapes):
        idx_shapes[0] = ["i"]

    def build(S, T):
        return (T(sizes(S, spec)), [None if s is None else T(sizes(S, s), torch.long)
                                    for s in idx_shapes]), {}
    r = check_rule(aten.index.Tensor, build, hints, dynamic)
    assert r["points"] > 0


@fewer(2)
@given(st.data())
def test_gather_scatter_index_select_put(data):
    hints, dynamic = draw_case(data.draw, st, "abck")
    rank = data.draw(st.integers(1, 3))
    spec = list("abc"[:rank])
    dim = data.draw(st.integers(-rank, rank - 1))
    idx = list(spec)
    idx[dim] = "k"
    check_rule(aten.gather.default, lambda S, T: ((T(sizes(S, spec)), dim, T(sizes(S, idx), torch.long)), {}),
               hints, dynamic)
    check_rule(aten.scatter.src, lambda S, T: ((T(sizes(S, spec)), dim, T(sizes(S, idx), torch.long),
                                                T(sizes(S, idx))), {}), hints, dynamic)
    check_rule(aten.scatter_add.default, lambda S, T: (
        (T(sizes(S, spec)), dim, T(sizes(S, idx), torch.long), T(sizes(S, idx))), {}), hints, dynamic)
    r = check_rule(aten.index_select.default, lambda S, T: (
        (T(sizes(S, spec)), dim, T((S["k"],), torch.long)), {}), hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.index_put.default, lambda S, T: (
        (T(sizes(S, spec)), [T((S["k"],), torch.long)], T(sizes(S, ["k"] + spec[1:]))), {}),
        hints, dynamic)
    check_rule(aten.index_add.default, lambda S, T: (
        (T(sizes(S, spec)), dim, T((S["k"],), torch.long), T(sizes(S, idx))), {}), hints, dynamic)


@given(st.data())
def test_factories(data):
    hints, dynamic = draw_case(data.draw, st, "abc")
    spec = data.draw(st.lists(st.sampled_from(["a", "b", "c", 3]), max_size=3))
    for op in (aten.zeros.default, aten.ones.default, aten.empty.memory_format, aten.randn.default):
        r = check_rule(op, lambda S, T: ((list(sizes(S, spec)),), {"device": "meta"}), hints, dynamic)
    assert r["points"] > 0 or not any(isinstance(d, str) for d in spec)
    check_rule(aten.full.default, lambda S, T: ((list(sizes(S, spec)), 1.5), {"device": "meta"}),
               hints, dynamic)
    check_rule(aten.new_zeros.default, lambda S, T: ((T((2,)), list(sizes(S, spec))), {}), hints, dynamic)
    check_rule(aten.zeros_like.default, lambda S, T: ((T(sizes(S, spec)),), {}), hints, dynamic)
    check_rule(aten.eye.m, lambda S, T: ((S["a"], S["b"] + 1), {"device": "meta"}), hints, dynamic)


ARANGE_ARGS = st.sampled_from([
    lambda S: (S["a"],), lambda S: (1, S["a"]), lambda S: (0, S["a"], 2), lambda S: (S["b"], S["a"] + S["b"]),
    lambda S: (S["a"], 0, -1), lambda S: (S["a"] * S["b"],), lambda S: (0, S["a"], 3),
    lambda S: (-S["a"], S["b"], 2), lambda S: (0.5, S["a"]), lambda S: (0, S["a"], 0.5)])


@given(st.data())
def test_arange_with_symbolic_ends(data):
    hints, dynamic = draw_case(data.draw, st, "ab")
    args = data.draw(ARANGE_ARGS)
    n = len(args(hints))
    op = {1: aten.arange.default, 2: aten.arange.start, 3: aten.arange.start_step}[n]
    r = check_rule(op, lambda S, T: (args(S), {"device": "meta"}), hints, dynamic)
    assert r["points"] > 0


def _env_proxy(env, shape_spec, hints, dtype=torch.float32):
    sym = {n: env.create_size(h, n) for n, h in hints.items()}
    return proxy_maker(sizes(sym, shape_spec), dtype), sym


def test_data_dependent_ops_make_unbacked_symbols():
    env = ShapeEnv()
    x, _ = _env_proxy(env, ["a", 3], {"a": 4})
    mask, _ = _env_proxy(env, ["a", 3], {"a": 4}, torch.bool)
    cases = [   # op, args, oracle shapes (only the backed sizes are compared)
        (aten.nonzero.default, (mask,), [(0, 2)]),
        (aten.masked_select.default, (x, mask), [(0,)]),
        (aten._unique2.default, (x, True, True, True), [(0,), (4, 3), (0,)]),
        (aten.index.Tensor, (x, [mask]), [(0,)]),
        (aten.one_hot.default, (proxy_maker((3,), torch.long), -1), [(3, 0)]),
        (aten.repeat_interleave.Tensor, (proxy_maker((3,), torch.long),), [(0,)]),
    ]
    for op, args, oracle in cases:
        outputs = [TensorMeta(s, torch.float32, torch.device("cpu")) for s in oracle]
        shape_rules.apply_rule(op, args, {}, outputs, env)
        unbacked = [s for m in outputs for s in m.shape
                    if isinstance(s, SymValue) and s.hint is None]
        assert unbacked, f"{op} made no unbacked size: {[m.shape for m in outputs]}"
    info = [i for i in env.symbols.values() if i.hint is None]
    assert all(i.lower == 0 or i.lower == 1 for i in info)
    # nonzero of a [s0, 3] mask: [u, 2]; index with a full mask: [u]
    nz = [TensorMeta((0, 2), torch.long, torch.device("cpu"))]
    shape_rules.apply_rule(aten.nonzero.default, (mask,), {}, nz, env)
    assert nz[0].shape[1] == 2 and nz[0].shape[0].hint is None


def test_static_inputs_need_no_rule():
    outputs = [TensorMeta((2, 3), torch.float32, torch.device("cpu"))]
    shape_rules.apply_rule(aten.kron.default, (proxy_maker((1, 2)), proxy_maker((2, 3))), {},
                           outputs, ShapeEnv())
    assert outputs[0].shape == (2, 3)


def test_op_without_rule_learns_its_kernels_guards(caplog):
    # torch's own kron kernel specializes its input sizes (torch.export does the same):
    # the fallback records exactly those guards, and says nothing of a missing rule
    env = ShapeEnv()
    x, sym = _env_proxy(env, ["a", "b"], {"a": 2, "b": 4})
    outputs = [TensorMeta((4, 16), torch.float32, torch.device("cpu"))]
    with caplog.at_level(logging.WARNING, logger="strict_tracer.shapes"):
        shape_rules.apply_rule(aten.kron.default, (x, x), {}, outputs, env)
    assert outputs[0].shape == (4, 16)
    assert sorted(str(g.expr) for g in env.guards) == ["Eq(s0, 2)", "Eq(s1, 4)"]
    assert "specializing" not in caplog.text


def test_call_no_kernel_can_run_symbolically_specializes(caplog):
    env = ShapeEnv()
    x, _ = _env_proxy(env, ["a", "b"], {"a": 2, "b": 3})
    outputs = [TensorMeta((3, 2), torch.float32, torch.device("cpu"))]
    outputs = [TensorMeta((4, 3), torch.float32, torch.device("cpu"))]
    with caplog.at_level(logging.WARNING, logger="strict_tracer.shapes"):
        # aten.convolution takes batched inputs only; this call is left to the oracle
        shape_rules.apply_rule(aten.convolution.default,
                               (proxy_maker((2, x.meta.shape[1])), proxy_maker((4, 2, 1)), None, [1],
                                [0], [1], False, [0], 1), {}, outputs, env)
    assert outputs[0].shape == (4, 3) and [str(g.expr) for g in env.guards] == ["Eq(s1, 3)"]
    assert "kernel cannot run symbolically" in caplog.text


def test_rule_disagreeing_with_the_oracle_is_an_internal_error():
    env = ShapeEnv()
    x, _ = _env_proxy(env, ["a", "b"], {"a": 2, "b": 3})
    wrong = [TensorMeta((2, 3), torch.float32, torch.device("cpu"))]
    with pytest.raises(InternalTracerError, match="meta kernel gives"):
        shape_rules.apply_rule(aten.t.default, (x,), {}, wrong, env)
