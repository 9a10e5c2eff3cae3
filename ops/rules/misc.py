"""Other ops real models use: activations that are not tagged pointwise, glu, diff, prelu,
cdist, bilinear, diagonal, broadcast_tensors/meshgrid, recurrent layers (lstm/gru/rnn),
and assertion ops with no tensor output."""
from __future__ import annotations

import torch

from .common import broadcast, expect, expect_eq, shape, sym_max, sym_min, wrap_dim
from .rule_table import Bound, register
from .views import slice_length

aten = torch.ops.aten


@register(aten.hardswish.default, aten.log_sigmoid.default, aten.prelu.default,
          aten._prelu_kernel.default, aten.hardswish_.default, aten.bucketize.Tensor,
          aten.logit.default)
def same_as_self(a: Bound):
    return shape(a["self"])


@register(aten.log_sigmoid_forward.default)
def log_sigmoid_forward(a: Bound):
    s = shape(a["self"])
    return [s, s]


@register(aten.searchsorted.Tensor)
def searchsorted(a: Bound):
    return shape(a["self"])


@register(aten._assert_tensor_metadata.default, aten._assert_async.default,
          aten._assert_async.msg)
def no_tensor_output(a: Bound):
    return []


@register(aten.glu.default)
def glu(a: Bound):
    s = shape(a["self"])
    d = wrap_dim(a["dim"], len(s))
    half = s[d] // 2
    expect_eq(half * 2, s[d], "glu(): the halved dim must be even")
    return s[:d] + (half,) + s[d + 1:]


@register(aten.diff.default)
def diff(a: Bound):
    s = shape(a["self"])
    d = wrap_dim(a["dim"], len(s))
    if a["n"] == 0:
        return s        # torch returns the input itself, prepend/append unused
    size = s[d]
    for extra in (a["prepend"], a["append"]):
        if extra is not None:
            size = size + shape(extra)[d]
    n = a["n"]
    size = sym_max(size - n, 0)
    return s[:d] + (size,) + s[d + 1:]


@register(aten.cdist.default, aten._cdist_forward.default)
def cdist(a: Bound):
    x, y = shape(a["x1"]), shape(a["x2"])
    expect_eq(x[-1], y[-1], "cdist(): feature sizes")
    return broadcast(x[:-2], y[:-2]) + (x[-2], y[-2])


@register(aten.bilinear.default)
def bilinear(a: Bound):
    x, w = shape(a["input1"]), shape(a["weight"])
    expect_eq(x[-1], w[1], "bilinear(): input1 features")
    expect_eq(shape(a["input2"])[-1], w[2], "bilinear(): input2 features")
    return x[:-1] + (w[0],)


@register(aten.diagonal.default)
def diagonal(a: Bound):
    s = shape(a["self"])
    d1, d2 = wrap_dim(a["dim1"], len(s)), wrap_dim(a["dim2"], len(s))
    expect(d1 != d2, "diagonal(): dims must differ")
    offset = a["offset"]
    if offset >= 0:
        n = sym_max(sym_min(s[d1], s[d2] - offset), 0)
    else:
        n = sym_max(sym_min(s[d1] + offset, s[d2]), 0)
    rest = tuple(size for i, size in enumerate(s) if i not in (d1, d2))
    return rest + (n,)


@register(aten.broadcast_tensors.default)
def broadcast_tensors(a: Bound):
    shapes = [shape(t) for t in a["tensors"]]
    out = broadcast(*shapes)
    return [out] * len(shapes)


@register(aten.meshgrid.default, aten.meshgrid.indexing)
def meshgrid(a: Bound):
    sizes = tuple(shape(t)[0] if shape(t) else 1 for t in a["tensors"])
    if a.get("indexing") == "xy" and len(sizes) >= 2:
        sizes = (sizes[1], sizes[0]) + sizes[2:]
    return [sizes] * len(a["tensors"])


def _recurrent(a: Bound, hidden: list):
    """Output (seq, batch, D * hidden) in the input's layout; hidden states keep their shapes."""
    x = shape(a["input"])
    h = shape(hidden[0])
    directions = 2 if a["bidirectional"] else 1
    return [x[:-1] + (directions * h[-1],)] + [shape(t) for t in hidden]


@register(aten.lstm.input)
def lstm(a: Bound):
    return _recurrent(a, list(a["hx"]))


@register(aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input)
def gru(a: Bound):
    return _recurrent(a, [a["hx"]])


@register(aten.narrow_copy.default)
def narrow_copy(a: Bound):
    s = shape(a["self"])
    d = wrap_dim(a["dim"], len(s))
    expect(a["start"] + a["length"] <= s[d], "narrow_copy(): out of range")
    return s[:d] + (a["length"],) + s[d + 1:]


@register(aten.slice_copy.Tensor)
def slice_copy(a: Bound):
    s = shape(a["self"])
    d = wrap_dim(a["dim"], len(s))
    return s[:d] + (slice_length(s[d], a["start"], a["end"], a["step"]),) + s[d + 1:]
