"""Rules whose kernels check more than the output shape needs: a weight's dim 0 and the
channels splitting into groups, bias and src sizes. Every size is its own dynamic dim, so a
check the rule leaves out shows up as sizes that satisfy its guards but fail the op."""
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, fewer

aten = torch.ops.aten
CONV = {1: aten.conv1d.default, 2: aten.conv2d.default, 3: aten.conv3d.default}
TRANSPOSED = {1: aten.conv_transpose1d.default, 2: aten.conv_transpose2d.input,
              3: aten.conv_transpose3d.input}


def _sizes(data, names: str, low: int = 2, high: int = 6) -> dict:
    return {n: data.draw(st.integers(low, high)) for n in names}


@fewer(4)
@given(st.data())
def test_grouped_convolution_every_dim_dynamic(data):
    n = data.draw(st.integers(1, 3))
    groups = data.draw(st.sampled_from([2, 3]))
    bias = data.draw(st.booleans())
    hints = _sizes(data, "bipk")
    hints["o"] = groups * hints["p"]       # out channels: a multiple of groups at the hints
    hints["l"] = hints["k"] + data.draw(st.integers(0, 4))
    spatial = ["l"] * n

    def conv(S, T):
        x = T([S["b"], S["i"] * groups] + [S[d] for d in spatial])
        w = T([S["o"], S["i"]] + [S["k"]] * n)
        return (x, w, T([S["o"]]) if bias else None, [1], [0], [1], groups), {}
    assert check_rule(CONV[n], conv, hints)["points"] > 0

    def transposed(S, T):
        x = T([S["b"], S["i"] * groups] + [S[d] for d in spatial])
        w = T([S["i"] * groups, S["p"]] + [S["k"]] * n)
        out = S["p"] * groups
        return (x, w, T([out]) if bias else None, [1], [0], [0], groups, [1]), {}
    check_rule(TRANSPOSED[n], transposed, hints)

    def convolution(S, T):
        x = T([S["b"], S["i"] * groups] + [S[d] for d in spatial])
        w = T([S["o"], S["i"]] + [S["k"]] * n)
        return (x, w, T([S["o"]]) if bias else None, [1] * n, [0] * n, [1] * n, False, [0] * n,
                groups), {}
    check_rule(aten.convolution.default, convolution, hints)


@fewer(10)
@given(st.data())
def test_channels_into_groups(data):
    groups = data.draw(st.sampled_from([2, 3]))
    hints = _sizes(data, "bgsd")
    hints["c"] = groups * hints["g"]
    hints["w"] = hints["c"]
    affine = data.draw(st.booleans())
    check_rule(aten.group_norm.default, lambda S, T: (
        (T((S["b"], S["c"], S["s"])), groups, T((S["w"],)) if affine else None), {}), hints)
    check_rule(aten.native_group_norm.default, lambda S, T: (
        (T((S["b"], S["c"], S["s"])), T((S["w"],)) if affine else None,
         T((S["w"],)) if affine else None, S["b"], S["c"], S["s"], groups, 1e-5), {}), hints)
    check_rule(aten.channel_shuffle.default, lambda S, T: (
        (T((S["b"], S["c"], S["s"], S["d"])), groups), {}), hints)
    r = groups
    hints["h"], hints["x"] = r * hints["s"], r * hints["d"]
    hints["q"] = r * r * hints["g"]
    check_rule(aten.pixel_shuffle.default, lambda S, T: (
        (T((S["b"], S["q"], S["s"], S["d"])), r), {}), hints)
    check_rule(aten.pixel_unshuffle.default, lambda S, T: (
        (T((S["b"], S["c"], S["h"], S["x"])), r), {}), hints)


@fewer(4)
@given(st.data())
def test_scatter_into_view_src_sizes(data):
    hints = _sizes(data, "abc", 3, 7)
    start = data.draw(st.integers(0, 2))
    hints["n"] = hints["b"] - start           # src's size along the sliced dim
    hints["x"], hints["y"] = hints["a"], hints["c"]
    check_rule(aten.slice_scatter.default, lambda S, T: (
        (T((S["a"], S["b"], S["c"])), T((S["x"], S["n"], S["y"])), 1, start), {}), hints)
    check_rule(aten.select_scatter.default, lambda S, T: (
        (T((S["a"], S["b"], S["c"])), T((S["x"], S["y"])), 1, start), {}), hints)
    hints["m"] = min(hints["a"], hints["b"])
    check_rule(aten.diagonal_scatter.default, lambda S, T: (
        (T((S["a"], S["b"], S["c"])), T((S["y"], S["m"])), 0, 0, 1), {}), hints)
    hints["z"] = hints["b"]
    check_rule(aten.copy.default, lambda S, T: (
        (T((S["a"], S["b"], S["c"])), T((S["z"], S["y"]))), {}), hints)
