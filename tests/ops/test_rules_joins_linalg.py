"""cat/stack/split/chunk/unbind and matmul-family/einsum rules against the meta kernels."""
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, sizes

aten = torch.ops.aten


def _input(data, low=1, high=4):
    rank = data.draw(st.integers(low, high))
    spec = list("abcd"[:rank])
    hints, dynamic = draw_case(data.draw, st)
    return rank, spec, hints, dynamic


@given(st.data())
def test_cat_stack(data):
    rank, spec, hints, dynamic = _input(data)
    dim = data.draw(st.integers(-rank, rank - 1))
    n = data.draw(st.integers(1, 3))
    along = [data.draw(st.sampled_from(["a", "b", "c", 2])) for _ in range(n)]

    def parts(S, T):
        out = []
        for d in along:
            s = list(sizes(S, spec))
            s[dim] = S[d] if isinstance(d, str) else d
            out.append(T(s))
        return out
    r = check_rule(aten.cat.default, lambda S, T: ((parts(S, T), dim), {}), hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.cat.default, lambda S, T: (([T(sizes(S, spec)), T((0,))], dim), {}), hints, dynamic)
    sdim = data.draw(st.integers(-rank - 1, rank))
    r = check_rule(aten.stack.default, lambda S, T: (([T(sizes(S, spec))] * n, sdim), {}), hints, dynamic)
    assert r["points"] > 0


@given(st.data())
def test_split_chunk_unbind(data):
    rank, spec, hints, dynamic = _input(data)
    dim = data.draw(st.integers(-rank, rank - 1))
    size = hints[spec[dim]]
    step = data.draw(st.integers(1, size + 1))
    check_rule(aten.split.Tensor, lambda S, T: ((T(sizes(S, spec)), step, dim), {}), hints, dynamic)
    chunks = data.draw(st.integers(1, size + 1))
    check_rule(aten.chunk.default, lambda S, T: ((T(sizes(S, spec)), chunks, dim), {}), hints, dynamic)
    check_rule(aten.unbind.int, lambda S, T: ((T(sizes(S, spec)), dim), {}), hints, dynamic)
    first = data.draw(st.integers(0, size))
    r = check_rule(aten.split_with_sizes.default, lambda S, T: (
        (T(sizes(S, spec)), [first, sizes(S, spec)[dim] - first], dim), {}), hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.split.Tensor, lambda S, T: (  # split(x, x.size(d) // 2): symbolic split size
        (T(sizes(S, spec)), sizes(S, spec)[dim] // 2 or 1, dim), {}), hints, dynamic)
    check_rule(aten.tensor_split.sections, lambda S, T: ((T(sizes(S, spec)), chunks, dim), {}),
               hints, dynamic)


def test_chunk_in_two_stays_dynamic():
    r = check_rule(aten.chunk.default, lambda S, T: ((T((S["a"], 6)), 2, 0), {}), {"a": 8})
    assert r["points"] > 0


@given(st.data())
def test_matmul_family(data):
    hints, dynamic = draw_case(data.draw, st, "bmnkh")
    batch_x = data.draw(st.lists(st.sampled_from(["b", "h", 1]), max_size=2))
    batch_y = data.draw(st.lists(st.sampled_from(["b", "h", 1]), max_size=2))
    batch_y = [d if i >= len(batch_x) or batch_x[-1 - i] in (1, d) or d == 1 else batch_x[-1 - i]
               for i, d in enumerate(batch_y[::-1])][::-1]
    x_vec, y_vec = data.draw(st.booleans()), data.draw(st.booleans())
    xs = ["k"] if x_vec else batch_x + ["m", "k"]
    ys = ["k"] if y_vec else batch_y + ["k", "n"]
    r = check_rule(aten.matmul.default, lambda S, T: ((T(sizes(S, xs)), T(sizes(S, ys))), {}),
                   hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.mm.default, lambda S, T: ((T(sizes(S, "mk")), T(sizes(S, "kn"))), {}), hints, dynamic)
    check_rule(aten.bmm.default, lambda S, T: ((T(sizes(S, "bmk")), T(sizes(S, "bkn"))), {}),
               hints, dynamic)
    bias = data.draw(st.sampled_from([None, "n", 1]))
    lead = data.draw(st.lists(st.sampled_from(["b", "h", "m"]), max_size=2))
    check_rule(aten.linear.default, lambda S, T: ((T(sizes(S, lead + ["k"])), T(sizes(S, "nk")),
                                                   None if bias is None else T(sizes(S, [bias]))), {}),
               hints, dynamic)
    check_rule(aten.addmm.default, lambda S, T: ((T(sizes(S, [bias or "n"])), T(sizes(S, "mk")),
                                                  T(sizes(S, "kn"))), {}), hints, dynamic)
    check_rule(aten.baddbmm.default, lambda S, T: ((T(sizes(S, [1, "m", "n"])), T(sizes(S, "bmk")),
                                                    T(sizes(S, "bkn"))), {}), hints, dynamic)


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "bhqd,bhkd->bhqk", "ij,kj", "i,i->", "i,j->ij",
           "...ij,...jk->...ik", "bn,anm,bm->ba", "ii->i", "ij->"]


@given(st.data())
def test_einsum(data):
    eq = data.draw(st.sampled_from(EINSUMS))
    letters = sorted({c for c in eq if c.isalpha()})
    hints = {c: data.draw(st.integers(2, 5)) for c in letters}
    if eq == "ii->i":
        pass
    dynamic = {c for c in letters if data.draw(st.booleans())} or {letters[0]}
    lhs = eq.split("->")[0].split(",")
    batch = data.draw(st.lists(st.sampled_from(letters), max_size=2))

    def build(S, T):
        ops = []
        for term in lhs:
            dims = [S[c] for c in term.replace("...", "")]
            ops.append(T(sizes(S, batch) + tuple(dims) if "..." in term else dims))
        return (eq, ops), {}
    r = check_rule(aten.einsum.default, build, hints, dynamic)
    assert r["points"] > 0
