"""View and shape-op rules (view/reshape with -1, flatten, squeeze, permute, expand, slice,
select, narrow, ...) against the meta kernels."""
import sys

import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, sizes

aten = torch.ops.aten


def _input(data, low=1):
    rank = data.draw(st.integers(low, 4))
    spec = list("abcd"[:rank])
    hints, dynamic = draw_case(data.draw, st)
    return rank, spec, hints, dynamic


@given(st.data())
def test_view_reshape_regroup(data):
    """Reshape by regrouping consecutive dims, one group possibly -1: valid at any size."""
    rank, spec, hints, dynamic = _input(data)
    op = data.draw(st.sampled_from([aten.view.default, aten.reshape.default,
                                    aten._unsafe_view.default]))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, rank - 1), max_size=rank))) if rank > 1 else [])
    groups = [spec[i:j] for i, j in zip([0] + cuts, cuts + [rank])]
    minus = data.draw(st.integers(-1, len(groups) - 1))

    def build(S, T):
        new = []
        for k, g in enumerate(groups):
            n = 1
            for d in g:
                n = n * S[d]
            new.append(-1 if k == minus else n)
        return (T(sizes(S, spec)), new), {}
    r = check_rule(op, build, hints, dynamic)
    assert r["points"] > 0


@given(st.data())
def test_view_with_constants_guards(data):
    """Constant target sizes: the rule guards what it needs; other sizes are checked."""
    hints, dynamic = draw_case(data.draw, st, "ab")
    hints["a"] = 2 * data.draw(st.integers(1, 3))
    check_rule(aten.view.default, lambda S, T: ((T((S["a"], S["b"])), [-1, 2]), {}), hints, dynamic)
    check_rule(aten.reshape.default, lambda S, T: ((T((S["a"], S["b"])), [2, -1, S["b"]]), {}),
               hints, dynamic)
    check_rule(aten.view.default, lambda S, T: ((T((S["a"], 3)), [hints["a"] * 3]), {}),
               hints, dynamic)


@given(st.data())
def test_flatten_unflatten(data):
    rank, spec, hints, dynamic = _input(data)
    start = data.draw(st.integers(0, rank - 1))
    end = data.draw(st.integers(start, rank - 1))
    check_rule(aten.flatten.using_ints, lambda S, T: ((T(sizes(S, spec)), start, end - rank), {}),
               hints, dynamic)
    dim = data.draw(st.integers(0, rank - 1))
    check_rule(aten.unflatten.int, lambda S, T: ((T(sizes(S, spec[:dim] + ["x"] + spec[dim + 1:])),
                                                  dim, [S["x"] // 3, 3]), {}),
               {**hints, "x": 3 * hints["a"]}, dynamic | {"x"})
    check_rule(aten.unflatten.int, lambda S, T: ((T(sizes(S, spec)), dim, [1, -1]), {}),
               hints, dynamic)


@given(st.data())
def test_squeeze_unsqueeze_permute_transpose(data):
    rank, spec, hints, dynamic = _input(data)
    spec_with_ones = [d if data.draw(st.booleans()) else 1 for d in spec]
    dim = data.draw(st.integers(-rank, rank - 1))
    build_x = lambda S, T: T(sizes(S, spec_with_ones))  # noqa: E731
    check_rule(aten.squeeze.default, lambda S, T: ((build_x(S, T),), {}), hints, dynamic)
    check_rule(aten.squeeze.dim, lambda S, T: ((build_x(S, T), dim), {}), hints, dynamic)
    check_rule(aten.squeeze.dims, lambda S, T: ((build_x(S, T), sorted({dim % rank, 0})), {}), hints, dynamic)
    check_rule(aten.unsqueeze.default, lambda S, T: ((build_x(S, T), dim), {}), hints, dynamic)
    perm = data.draw(st.permutations(range(rank)))
    check_rule(aten.permute.default, lambda S, T: ((build_x(S, T), list(perm)), {}), hints, dynamic)
    other = data.draw(st.integers(-rank, rank - 1))
    check_rule(aten.transpose.int, lambda S, T: ((build_x(S, T), dim, other), {}), hints, dynamic)
    check_rule(aten.numpy_T.default, lambda S, T: ((build_x(S, T),), {}), hints, dynamic)
    check_rule(aten.movedim.int, lambda S, T: ((build_x(S, T), dim, other), {}), hints, dynamic)
    if rank <= 2:
        check_rule(aten.t.default, lambda S, T: ((build_x(S, T),), {}), hints, dynamic)
    else:
        check_rule(aten.mT.default, lambda S, T: ((build_x(S, T),), {}), hints, dynamic)


@given(st.data())
def test_expand_repeat(data):
    rank, spec, hints, dynamic = _input(data)
    src = [d if data.draw(st.booleans()) else 1 for d in spec]
    lead = data.draw(st.lists(st.sampled_from(["a", "b", 2]), max_size=2))
    target = lambda S: list(sizes(S, lead)) + [  # noqa: E731
        -1 if (d != 1 and data_minus) else S[d] if isinstance(d, str) else S[spec[i]]
        for i, d in enumerate(src)]
    data_minus = data.draw(st.booleans())
    r = check_rule(aten.expand.default, lambda S, T: ((T(sizes(S, src)), target(S)), {}),
                   hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.expand_as.default, lambda S, T: ((T(sizes(S, src)), T(target(S)[:0] + [
        S[spec[i]] for i in range(rank)])), {}), hints, dynamic)
    reps = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank + 2))
    check_rule(aten.repeat.default, lambda S, T: ((T(sizes(S, src)), reps), {}), hints, dynamic)


BOUNDS = st.one_of(st.none(), st.integers(-8, 8), st.sampled_from(["size", "size-1", "half"]))


def _bound(b, size):
    if b == "size":
        return size
    if b == "size-1":
        return size - 1
    if b == "half":
        return size // 2
    return b


@given(st.data())
def test_slice_with_symbolic_bounds(data):
    rank, spec, hints, dynamic = _input(data)
    dim = data.draw(st.integers(-rank, rank - 1))
    start, end = data.draw(BOUNDS), data.draw(BOUNDS)
    step = data.draw(st.integers(1, 3))
    big_end = data.draw(st.booleans())

    def build(S, T):
        x = T(sizes(S, spec))
        size = sizes(S, spec)[dim]
        e = sys.maxsize if big_end and end is None else _bound(end, size)
        return (x, dim, _bound(start, size), e, step), {}
    check_rule(aten.slice.Tensor, build, hints, dynamic)


@given(st.data())
def test_select_narrow_unfold(data):
    rank, spec, hints, dynamic = _input(data)
    dim = data.draw(st.integers(-rank, rank - 1))
    size = hints[spec[dim]]
    index = data.draw(st.integers(-size, size - 1))
    check_rule(aten.select.int, lambda S, T: ((T(sizes(S, spec)), dim, index), {}), hints, dynamic)
    check_rule(aten.select.int, lambda S, T: ((T(sizes(S, spec)), dim, sizes(S, spec)[dim] - 1), {}),
               hints, dynamic)
    start = data.draw(st.integers(0, size - 1))
    length = data.draw(st.integers(0, size - start))
    check_rule(aten.narrow.default, lambda S, T: ((T(sizes(S, spec)), dim, start, length), {}),
               hints, dynamic)
    check_rule(aten.narrow.default, lambda S, T: (
        (T(sizes(S, spec)), dim, 1, sizes(S, spec)[dim] - 1), {}), hints, dynamic)
    k = data.draw(st.integers(1, size))
    check_rule(aten.unfold.default, lambda S, T: ((T(sizes(S, spec)), dim, k, 1 + (k % 2)), {}),
               hints, dynamic)
