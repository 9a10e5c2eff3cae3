"""Reduction and along-a-dim shape rules against the meta kernels."""
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, sizes

aten = torch.ops.aten

# op -> how to build the arguments after self from (dims, keepdim)
DIM_LIST = [aten.sum.dim_IntList, aten.mean.dim, aten.amax.default, aten.amin.default,
            aten.logsumexp.default, aten.std.dim, aten.any.dims]
DIM_INT = [aten.max.dim, aten.min.dim, aten.argmax.default, aten.argmin.default, aten.prod.dim_int,
           aten.any.dim, aten.median.dim, aten.mode.default]
NO_DIM = [aten.sum.default, aten.mean.default, aten.max.default, aten.amax.default,
          aten.var.default, aten.std.default, aten.all.default]
ALONG = [(aten.softmax.int, lambda d: (d,)), (aten.log_softmax.int, lambda d: (d,)),
         (aten.cumsum.default, lambda d: (d,)), (aten._softmax.default, lambda d: (d, False)),
         (aten.cummax.default, lambda d: (d,)), (aten.sort.default, lambda d: (d,)),
         (aten.argsort.default, lambda d: (d,)), (aten.flip.default, lambda d: ([d],)),
         (aten.roll.default, lambda d: ([1], [d])), (aten.triu.default, lambda d: (d - 1,)),
         (aten.tril.default, lambda d: (-d,)), (aten.logcumsumexp.default, lambda d: (d,))]


def _input(data):
    rank = data.draw(st.integers(1, 4))
    spec = list("abcd"[:rank])
    hints, dynamic = draw_case(data.draw, st)
    return rank, spec, hints, dynamic


@given(st.data())
def test_reduce_dim_list(data):
    rank, spec, hints, dynamic = _input(data)
    op = data.draw(st.sampled_from(DIM_LIST))
    dims = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank,
                              unique_by=lambda d: d % rank))
    keepdim = data.draw(st.booleans())
    dtype = torch.bool if op is aten.any.dims else torch.float32
    r = check_rule(op, lambda S, T: ((T(sizes(S, spec), dtype), dims, keepdim), {}), hints, dynamic)
    assert r["points"] > 0 and r["guards"] == 0


@given(st.data())
def test_reduce_dim_int(data):
    rank, spec, hints, dynamic = _input(data)
    op = data.draw(st.sampled_from(DIM_INT))
    dim = data.draw(st.integers(-rank, rank - 1))
    keepdim = data.draw(st.booleans())
    dtype = torch.bool if op is aten.any.dim else torch.float32
    r = check_rule(op, lambda S, T: ((T(sizes(S, spec), dtype), dim, keepdim), {}), hints, dynamic)
    assert r["points"] > 0 and r["guards"] == 0


@given(st.data())
def test_reduce_everything(data):
    rank, spec, hints, dynamic = _input(data)
    op = data.draw(st.sampled_from(NO_DIM))
    r = check_rule(op, lambda S, T: ((T(sizes(S, spec)),), {}), hints, dynamic)
    assert r["guards"] == 0


@given(st.data())
def test_var_std_correction(data):
    rank, spec, hints, dynamic = _input(data)
    op = data.draw(st.sampled_from([aten.var.correction, aten.std.correction,
                                    aten.var_mean.correction, aten.std_mean.correction]))
    dim = data.draw(st.one_of(st.none(), st.lists(st.integers(0, rank - 1), min_size=1,
                                                  max_size=rank, unique=True)))
    keepdim = data.draw(st.booleans())
    check_rule(op, lambda S, T: ((T(sizes(S, spec)), dim), {"correction": 0, "keepdim": keepdim}),
               hints, dynamic)


@given(st.data())
def test_along_a_dim(data):
    rank, spec, hints, dynamic = _input(data)
    op, extra = data.draw(st.sampled_from(ALONG))
    if op in (aten.triu.default, aten.tril.default) and rank < 2:
        spec, rank = spec + ["b"], 2
    dim = data.draw(st.integers(-rank, rank - 1))
    r = check_rule(op, lambda S, T: ((T(sizes(S, spec)), *extra(dim)), {}), hints, dynamic)
    assert r["points"] > 0


@given(st.data())
def test_topk_kthvalue(data):
    rank, spec, hints, dynamic = _input(data)
    dim = data.draw(st.integers(-rank, rank - 1))
    k = data.draw(st.integers(1, hints[spec[dim]]))
    check_rule(aten.topk.default, lambda S, T: ((T(sizes(S, spec)), k, dim), {}), hints, dynamic)
    check_rule(aten.kthvalue.default, lambda S, T: ((T(sizes(S, spec)), k, dim, True), {}),
               hints, dynamic)
