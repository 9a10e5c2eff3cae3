"""Reductions (sum/mean/amax/argmax/var/std/...) and same-shape ops along a dim (softmax,
cumsum, sort, triu/tril, flip, roll) plus topk.

Every reduction reads the schema's `dim` (int, list, None or absent) and `keepdim`: reduced
dims disappear or become 1. An absent/None dim, or an empty dim list for the ops that treat
it so, reduces every dim.
"""
from __future__ import annotations

import torch

from .common import as_list, expect, shape, wrap_dims
from .rule_table import Bound, register

aten = torch.ops.aten


def reduced(s: tuple, dim, keepdim: bool, empty_means_all: bool = True) -> tuple:
    dims = as_list(dim)
    if dim is None or (not dims and empty_means_all):
        dims = list(range(len(s)))
    picked = set(wrap_dims(dims, len(s)))
    out = []
    for i, size in enumerate(s):
        if i in picked:
            if keepdim:
                out.append(1)
        else:
            out.append(size)
    return tuple(out)


def _n_outputs(a: Bound) -> int:
    return len(a.op._schema.returns)


def _reduction(a: Bound):
    out = reduced(shape(a["self"]), a.get("dim"), bool(a.get("keepdim") or False))
    n = _n_outputs(a)
    return out if n == 1 else [out] * n


_REDUCTIONS = (
    aten.sum.default, aten.sum.dim_IntList, aten.mean.default, aten.mean.dim,
    aten.nansum.default, aten.nanmean.default, aten.prod.default, aten.prod.dim_int,
    aten.amax.default, aten.amin.default, aten.max.default, aten.max.dim, aten.min.default,
    aten.min.dim, aten.argmax.default, aten.argmin.default, aten.var.default, aten.var.dim,
    aten.var.correction, aten.std.default, aten.std.dim, aten.std.correction,
    aten.var_mean.default, aten.var_mean.dim, aten.var_mean.correction, aten.std_mean.default,
    aten.std_mean.dim, aten.std_mean.correction, aten.any.default, aten.any.dim, aten.any.dims,
    aten.all.default, aten.all.dim, aten.all.dims, aten.logsumexp.default, aten.norm.Scalar,
    aten.norm.ScalarOpt_dim, aten.norm.ScalarOpt_dim_dtype, aten.linalg_vector_norm.default,
    aten.aminmax.default, aten.median.default, aten.median.dim, aten.nanmedian.default,
    aten.nanmedian.dim, aten.mode.default, aten.count_nonzero.default,
    aten.count_nonzero.dim_IntList,
)
register(*_REDUCTIONS)(_reduction)


@register(aten.kthvalue.default)
def kthvalue(a: Bound):
    s = shape(a["self"])
    if s:
        expect(a["k"] <= s[wrap_dims([a["dim"]], len(s))[0]], "kthvalue(): k out of range")
    out = reduced(s, a["dim"], a["keepdim"])
    return [out, out]


@register(aten.softmax.int, aten.log_softmax.int, aten._softmax.default,
          aten._log_softmax.default, aten._safe_softmax.default, aten.cumsum.default,
          aten.cumsum_.default, aten.cumprod.default, aten.cumprod_.default,
          aten.logcumsumexp.default, aten.triu.default, aten.tril.default, aten.triu_.default,
          aten.tril_.default, aten.flip.default, aten.roll.default, aten.argsort.default,
          aten.argsort.stable, aten.fliplr.default, aten.flipud.default, aten.rot90.default)
def same_shape(a: Bound):
    s = shape(a["self"] if "self" in a else a["input"])
    if a.op in (aten.rot90.default,):
        return _rot90(a, s)
    return s


def _rot90(a: Bound, s: tuple) -> tuple:
    k = a["k"] % 4
    d0, d1 = wrap_dims(a["dims"], len(s))
    if k % 2 == 0:
        return s
    out = list(s)
    out[d0], out[d1] = s[d1], s[d0]
    return tuple(out)


@register(aten.cummax.default, aten.cummin.default, aten.sort.default, aten.sort.stable)
def same_shape_pair(a: Bound):
    s = shape(a["self"])
    return [s, s]


@register(aten.topk.default)
def topk(a: Bound):
    s = shape(a["self"])
    out = list(s)
    if s:
        d = wrap_dims([a["dim"]], len(s))[0]
        expect(a["k"] <= s[d], "topk(): k out of range")
        out[d] = a["k"]
    return [tuple(out), tuple(out)]
