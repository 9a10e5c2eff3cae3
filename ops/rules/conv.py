"""Convolution, pooling, upsampling and padding: output sizes from the usual formulas.

Inputs may be batched (N, C, *spatial) or unbatched (C, *spatial); the number of spatial
dims comes from the overload (conv2d -> 2) or from the weight.
"""
from __future__ import annotations

import math

import torch

from .common import as_list, expand_param, expect, expect_divisible, expect_eq, shape
from .rule_table import Bound, ShapeRuleError, register

aten = torch.ops.aten


def _spatial_count(op) -> int | None:
    name = op._schema.name
    for n in (1, 2, 3):
        if f"{n}d" in name:
            return n
    return None


def _split(s: tuple, n: int) -> tuple[tuple, tuple]:
    """(leading dims, spatial dims) of a batched or unbatched input."""
    expect(len(s) in (n + 1, n + 2), f"expected a {n + 1}-d or {n + 2}-d input, got {len(s)} dims")
    return s[:-n], s[-n:]


def conv_out(size, kernel, stride, padding, dilation):
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    # out = span // stride + 1 > 0 exactly when span >= 0: a linear guard the engine can
    # turn into a range.
    expect(span >= 0, "conv(): output size is too small")
    return span // stride + 1


def conv_transpose_out(size, kernel, stride, padding, dilation, output_padding):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def convolution_shape(x: tuple, w: tuple, stride, padding, dilation, transposed: bool,
                      output_padding, groups) -> tuple:
    n = len(w) - 2
    lead, spatial = _split(x, n)
    kernel = w[2:]
    stride = expand_param(stride, n, "stride")
    dilation = expand_param(dilation, n, "dilation")
    channels = lead[-1]
    # Every kernel checks that the weight's dim 0 (for a transposed conv, its input
    # channels) holds at least one row per group and splits into the groups.
    expect(w[0] >= groups, "conv(): weight dim 0 is smaller than groups")
    expect_divisible(w[0], groups, "conv(): weight dim 0 into groups")
    if isinstance(padding, str):
        if padding == "valid":
            padding = [0] * n
        elif padding == "same":
            expect_eq(channels, w[1] * groups, "conv(): input channels")
            return lead[:-1] + (w[0],) + spatial
        else:
            raise ShapeRuleError(f"unknown padding {padding!r}")
    padding = expand_param(padding, n, "padding")
    if transposed:
        expect_eq(channels, w[0], "conv_transpose(): input channels")
        output_padding = expand_param(output_padding, n, "output_padding")
        out = tuple(conv_transpose_out(*p) for p in
                    zip(spatial, kernel, stride, padding, dilation, output_padding))
        for o in out:
            expect(o > 0, "conv_transpose(): output size is too small")
        return lead[:-1] + (w[1] * groups,) + out
    expect_eq(channels, w[1] * groups, "conv(): input channels")
    out = tuple(conv_out(*p) for p in zip(spatial, kernel, stride, padding, dilation))
    return lead[:-1] + (w[0],) + out


def _with_bias(a: Bound, out: tuple, batched: bool) -> tuple:
    """The output shape, after requiring the bias (if any) to hold one value per channel."""
    bias = a["bias"]
    if bias is not None:
        b = shape(bias)
        expect(len(b) == 1, "conv(): bias must be 1-d")
        expect_eq(b[0], out[1 if batched else 0], "conv(): bias size")
    return out


@register(aten.conv1d.default, aten.conv2d.default, aten.conv3d.default, aten.conv1d.padding,
          aten.conv2d.padding, aten.conv3d.padding)
def conv(a: Bound):
    x, w = shape(a["input"]), shape(a["weight"])
    out = convolution_shape(x, w, a["stride"], a["padding"], a["dilation"], False, 0, a["groups"])
    return _with_bias(a, out, len(x) == len(w))


@register(aten.convolution.default, aten._convolution.default)
def convolution(a: Bound):
    if len(shape(a["input"])) != len(shape(a["weight"])):
        raise ShapeRuleError("convolution() takes batched inputs only")
    out = convolution_shape(shape(a["input"]), shape(a["weight"]), a["stride"], a["padding"],
                            a["dilation"], a["transposed"], a["output_padding"], a["groups"])
    return _with_bias(a, out, True)


@register(aten.conv_transpose1d.default, aten.conv_transpose2d.input,
          aten.conv_transpose3d.input)
def conv_transpose(a: Bound):
    x, w = shape(a["input"]), shape(a["weight"])
    out = convolution_shape(x, w, a["stride"], a["padding"], a["dilation"], True,
                            a["output_padding"], a["groups"])
    return _with_bias(a, out, len(x) == len(w))


def pool_out(size, kernel, stride, padding, dilation, ceil_mode: bool):
    expect(padding * 2 <= kernel, "pooling: padding must be at most half the kernel")
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    expect(span + (stride - 1 if ceil_mode else 0) >= 0, "pooling: output size is too small")
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out = out - 1
        expect(out > 0, "pooling: output size is too small")
    return out


def _pool(a: Bound, dilation_name: str | None):
    s = shape(a["self"] if "self" in a else a["input"])
    n = _spatial_count(a.op)
    lead, spatial = _split(s, n)
    kernel = expand_param(a["kernel_size"], n, "kernel_size")
    stride = expand_param(a["stride"], n, "stride") if as_list(a["stride"]) else kernel
    padding = expand_param(a["padding"], n, "padding")
    dilation = expand_param(a[dilation_name], n, "dilation") if dilation_name else [1] * n
    out = tuple(pool_out(*p, bool(a["ceil_mode"]))
                for p in zip(spatial, kernel, stride, padding, dilation))
    return lead + out


@register(aten.max_pool1d.default, aten.max_pool2d.default, aten.max_pool3d.default)
def max_pool(a: Bound):
    return _pool(a, "dilation")


@register(aten.max_pool1d_with_indices.default, aten.max_pool2d_with_indices.default,
          aten.max_pool3d_with_indices.default)
def max_pool_with_indices(a: Bound):
    out = _pool(a, "dilation")
    return [out, out]


@register(aten.avg_pool1d.default, aten.avg_pool2d.default, aten.avg_pool3d.default)
def avg_pool(a: Bound):
    return _pool(a, None)


def _adaptive(a: Bound) -> tuple:
    s = shape(a["self"] if "self" in a else a["input"])
    n = _spatial_count(a.op)
    lead, _ = _split(s, n)
    return lead + tuple(expand_param(a["output_size"], n, "output_size"))


@register(aten.adaptive_avg_pool1d.default, aten.adaptive_avg_pool2d.default,
          aten.adaptive_avg_pool3d.default, aten._adaptive_avg_pool2d.default,
          aten._adaptive_avg_pool3d.default)
def adaptive_avg_pool(a: Bound):
    return _adaptive(a)


@register(aten.adaptive_max_pool1d.default, aten.adaptive_max_pool2d.default,
          aten.adaptive_max_pool3d.default)
def adaptive_max_pool(a: Bound):
    out = _adaptive(a)
    return [out, out]


def _scaled(size, scale: float):
    if float(scale).is_integer():
        return size * int(scale)
    return math.floor(size * scale)


@register(aten.upsample_nearest1d.vec, aten.upsample_nearest2d.vec, aten.upsample_nearest3d.vec,
          aten._upsample_nearest_exact1d.vec, aten._upsample_nearest_exact2d.vec,
          aten._upsample_nearest_exact3d.vec, aten.upsample_linear1d.vec,
          aten.upsample_bilinear2d.vec, aten.upsample_bicubic2d.vec,
          aten.upsample_trilinear3d.vec, aten._upsample_bilinear2d_aa.vec,
          aten._upsample_bicubic2d_aa.vec)
def upsample(a: Bound):
    s = shape(a["input"])
    n = _spatial_count(a.op)
    lead, spatial = s[:-n], s[-n:]
    if a["output_size"] is not None:
        return lead + tuple(a["output_size"])
    scales = expand_param(a["scale_factors"], n, "scale_factors")
    return lead + tuple(_scaled(size, k) for size, k in zip(spatial, scales))


@register(aten.upsample_nearest1d.default, aten.upsample_nearest2d.default,
          aten.upsample_nearest3d.default, aten.upsample_bilinear2d.default,
          aten.upsample_linear1d.default, aten.upsample_bicubic2d.default,
          aten.upsample_trilinear3d.default)
def upsample_sizes(a: Bound):
    s = shape(a["self"])
    n = _spatial_count(a.op)
    return s[:-n] + tuple(a["output_size"])


def padded(s: tuple, pad: list) -> tuple:
    expect(len(pad) % 2 == 0 and len(pad) // 2 <= len(s), "pad(): bad padding length")
    out = list(s)
    for i in range(len(pad) // 2):
        d = len(s) - 1 - i
        out[d] = s[d] + pad[2 * i] + pad[2 * i + 1]
        expect(out[d] >= 0, "pad(): negative output size")
    return tuple(out)


@register(aten.constant_pad_nd.default, aten.pad.default)
def pad(a: Bound):
    return padded(shape(a["self"]), list(a["pad"]))


@register(aten.reflection_pad1d.default, aten.reflection_pad2d.default,
          aten.reflection_pad3d.default, aten.replication_pad1d.default,
          aten.replication_pad2d.default, aten.replication_pad3d.default, aten._pad_circular.default)
def pad_mode(a: Bound):
    return padded(shape(a["self"]), list(a["padding"] if "padding" in a else a["pad"]))


@register(aten.pixel_shuffle.default)
def pixel_shuffle(a: Bound):
    s, r = shape(a["self"]), a["upscale_factor"]
    expect_divisible(s[-3], r * r, "pixel_shuffle(): channels")
    c = s[-3] // (r * r)
    return s[:-3] + (c, s[-2] * r, s[-1] * r)


@register(aten.pixel_unshuffle.default)
def pixel_unshuffle(a: Bound):
    s, r = shape(a["self"]), a["downscale_factor"]
    expect_divisible(s[-2], r, "pixel_unshuffle(): height")
    expect_divisible(s[-1], r, "pixel_unshuffle(): width")
    h, w = s[-2] // r, s[-1] // r
    return s[:-3] + (s[-3] * r * r, h, w)
