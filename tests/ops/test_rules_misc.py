"""Rules for glu, diff, cdist, bilinear, diagonal, broadcast_tensors, recurrent layers, ...
against the meta kernels."""
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, fewer, sizes

aten = torch.ops.aten


@fewer(2)
@given(st.data())
def test_glu_diff_diagonal(data):
    hints, dynamic = draw_case(data.draw, st, "abc")
    rank = data.draw(st.integers(2, 3))
    spec = list("abc"[:rank])
    dim = data.draw(st.integers(-rank, rank - 1))
    hints[spec[dim]] *= 2
    check_rule(aten.glu.default, lambda S, T: ((T(sizes(S, spec)), dim), {}), hints, dynamic)
    n = data.draw(st.integers(1, 3))
    pre = data.draw(st.booleans())
    r = check_rule(aten.diff.default, lambda S, T: ((T(sizes(S, spec)), n, dim,
                                                     T(sizes(S, spec)) if pre else None), {}),
                   hints, dynamic)
    offset = data.draw(st.integers(-3, 3))
    d2 = data.draw(st.integers(0, rank - 1).filter(lambda d: d != dim % rank))
    check_rule(aten.diagonal.default, lambda S, T: ((T(sizes(S, spec)), offset, dim, d2), {}),
               hints, dynamic)
    assert r["points"] > 0 or n > 1


@given(st.data())
def test_pairwise_and_broadcasting_helpers(data):
    hints, dynamic = draw_case(data.draw, st, "bpqd")
    check_rule(aten.cdist.default, lambda S, T: ((T(sizes(S, "bpd")), T(sizes(S, "bqd"))), {}),
               hints, dynamic)
    check_rule(aten.bilinear.default, lambda S, T: ((T(sizes(S, "bp")), T(sizes(S, "bq")),
                                                     T((3, S["p"], S["q"]))), {}), hints, dynamic)
    a, b = data.draw(st.sampled_from([("bp", "p"), ("b1", "bq"), ("p", "p")]))
    check_rule(aten.broadcast_tensors.default, lambda S, T: (([T(sizes(S, list(a.replace("1", "")))
                                                                 if "1" not in a else (S["b"], 1)),
                                                               T(sizes(S, list(b)))],), {}),
               hints, dynamic)
    check_rule(aten.meshgrid.indexing, lambda S, T: (([T((S["b"],)), T((S["p"],))],), {"indexing": "xy"}),
               hints, dynamic)


@fewer(6)
@given(st.data())
def test_recurrent(data):
    hints, dynamic = draw_case(data.draw, st, "lnh")
    bidir = data.draw(st.booleans())
    batch_first = data.draw(st.booleans())
    D = 2 if bidir else 1
    x_spec = "nl" if batch_first else "ln"

    def params(T, H_in, H, gates):
        out = []
        for layer_dir in range(D):
            out += [T((gates * H, H_in)), T((gates * H, H)), T((gates * H,)), T((gates * H,))]
        return out

    def lstm(S, T):
        x = T(sizes(S, x_spec) + (3,))
        h = T((D, S["n"], 4))
        return (x, [h, T((D, S["n"], 4))], params(T, 3, 4, 4), True, 1, 0.0, False, bidir,
                batch_first), {}
    check_rule(aten.lstm.input, lstm, hints, dynamic)

    def gru(S, T):
        x = T(sizes(S, x_spec) + (3,))
        return (x, T((D, S["n"], 4)), params(T, 3, 4, 3), True, 1, 0.0, False, bidir,
                batch_first), {}
    check_rule(aten.gru.input, gru, hints, dynamic)
