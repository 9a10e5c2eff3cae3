"""Linear algebra: mm/bmm/matmul (broadcast batch dims), linear, addmm/baddbmm, mv/dot,
outer, einsum."""
from __future__ import annotations

import torch

from .common import broadcast, expect, expect_eq, same, shape, statically_one
from .rule_table import Bound, ShapeRuleError, register

aten = torch.ops.aten


def _inner(a_size, b_size, what: str) -> None:
    expect_eq(a_size, b_size, f"{what}: inner dimensions")


@register(aten.mm.default)
def mm(a: Bound):
    x, y = shape(a["self"]), shape(a["mat2"])
    expect(len(x) == 2 and len(y) == 2, "mm() needs 2-d tensors")
    _inner(x[1], y[0], "mm")
    return (x[0], y[1])


@register(aten.bmm.default)
def bmm(a: Bound):
    x, y = shape(a["self"]), shape(a["mat2"])
    expect(len(x) == 3 and len(y) == 3, "bmm() needs 3-d tensors")
    expect_eq(x[0], y[0], "bmm(): batch sizes")
    _inner(x[2], y[1], "bmm")
    return (x[0], x[1], y[2])


def matmul_shape(x: tuple, y: tuple) -> tuple:
    expect(len(x) >= 1 and len(y) >= 1, "matmul() needs tensors with at least one dim")
    if len(x) == 1 and len(y) == 1:
        _inner(x[0], y[0], "matmul")
        return ()
    if len(y) == 1:
        _inner(x[-1], y[0], "matmul")
        return x[:-1]
    if len(x) == 1:
        _inner(x[0], y[-2], "matmul")
        return y[:-2] + (y[-1],)
    _inner(x[-1], y[-2], "matmul")
    batch = broadcast(x[:-2], y[:-2])
    return batch + (x[-2], y[-1])


@register(aten.matmul.default)
def matmul(a: Bound):
    return matmul_shape(shape(a["self"]), shape(a["other"]))


@register(aten.mv.default)
def mv(a: Bound):
    x, v = shape(a["self"]), shape(a["vec"])
    _inner(x[1], v[0], "mv")
    return (x[0],)


@register(aten.dot.default, aten.vdot.default)
def dot(a: Bound):
    _inner(shape(a["self"])[0], shape(a["tensor"] if "tensor" in a else a["other"])[0], "dot")
    return ()


@register(aten.outer.default, aten.ger.default)
def outer(a: Bound):
    return (shape(a["self"])[0], shape(a["vec2"])[0])


@register(aten.linear.default)
def linear(a: Bound):
    x, w = shape(a["input"]), shape(a["weight"])
    expect(len(x) >= 1, "linear() needs an input with at least one dim")
    _inner(x[-1], w[-1], "linear")
    out = x[:-1] + ((w[0],) if len(w) == 2 else ())
    if a["bias"] is not None:
        _fits(shape(a["bias"]), out, "linear(): bias")
    return out


def _fits(small: tuple, out: tuple, what: str) -> None:
    """`small` broadcasts to `out` without changing it."""
    result = broadcast(out, small)
    expect(len(result) == len(out), f"{what} has too many dims")
    for r, o in zip(result, out):
        expect_eq(r, o, what)


@register(aten.addmm.default, aten.addmm_.default)
def addmm(a: Bound):
    out = mm(Bound(aten.mm.default, {"self": a["mat1"], "mat2": a["mat2"]}))
    if a.op is aten.addmm_.default:
        for x, y in zip(shape(a["self"]), out):
            expect_eq(x, y, "addmm_(): self size")
        return shape(a["self"])
    _fits(shape(a["self"]), out, "addmm(): self")
    return out


@register(aten.addmv.default)
def addmv(a: Bound):
    out = mv(Bound(aten.mv.default, {"self": a["mat"], "vec": a["vec"]}))
    _fits(shape(a["self"]), out, "addmv(): self")
    return out


@register(aten.baddbmm.default, aten.addbmm.default)
def baddbmm(a: Bound):
    out = bmm(Bound(aten.bmm.default, {"self": a["batch1"], "mat2": a["batch2"]}))
    if a.op is aten.addbmm.default:
        out = out[1:]
    _fits(shape(a["self"]), out, f"{a.op}: self")
    return out


def _unify(sizes: dict, label: str, size) -> None:
    """Einsum: a label names one size; size-1 dims broadcast."""
    known = sizes.get(label)
    if known is None or same(known, size) or statically_one(size):
        if known is None:
            sizes[label] = size
        return
    if statically_one(known):
        sizes[label] = size
        return
    sizes[label] = broadcast((known,), (size,))[0]


@register(aten.einsum.default)
def einsum(a: Bound):
    equation = a["equation"].replace(" ", "")
    operands = [shape(t) for t in a["tensors"]]
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    expect(len(terms) == len(operands), "einsum(): one subscript per operand")
    sizes: dict[str, object] = {}
    ellipses: list[tuple] = []
    counts: dict[str, int] = {}
    for term, s in zip(terms, operands):
        if "..." in term:
            head, _, tail = term.partition("...")
            n_ell = len(s) - len(head) - len(tail)
            expect(n_ell >= 0, "einsum(): operand has too few dims")
            ellipses.append(s[len(head):len(head) + n_ell])
            labels = list(head) + list(tail)
            dims = list(s[:len(head)]) + list(s[len(head) + n_ell:])
        else:
            expect(len(term) == len(s), "einsum(): subscripts do not match the operand's dims")
            labels, dims = list(term), list(s)
        for label, size in zip(labels, dims):
            if not label.isalpha():
                raise ShapeRuleError(f"einsum(): unsupported subscript {label!r}")
            _unify(sizes, label, size)
            counts[label] = counts.get(label, 0) + 1
    ell = broadcast(*ellipses) if ellipses else ()
    if not arrow:
        out_labels = sorted(lbl for lbl, n in counts.items() if n == 1)
        return ell + tuple(sizes[lbl] for lbl in out_labels)
    out: list = []
    head, dots, tail = rhs.partition("...")
    for lbl in head:
        out.append(sizes[lbl])
    if dots:
        out.extend(ell)
    for lbl in tail:
        out.append(sizes[lbl])
    return tuple(out)
