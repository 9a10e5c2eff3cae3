"""Shared pieces of the operator handlers: argument checks, metadata, node emission."""
from __future__ import annotations

import inspect
import operator
from typing import Any, Callable

import sympy
import torch
import torch.fx
import torch.utils._pytree as pytree

from ..errors import Category
from ..trace.graph import GraphBuilder
from ..proxy import TensorMeta, TensorProxy, contiguous_strides
from ..symbolic import SymValue
from ..trace.subgraph import SubgraphBuilder

CONSTANT_LEAVES = (int, float, bool, str, type(None))


def bind(fn: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Bind a call to `fn`'s signature (errors read as the real call's would)."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def tensor_leaves(interp, tree: Any, what: str, allow_constants: bool) -> tuple[list[Any], Any]:
    """Flatten `tree`; real tensors become lifted proxies; other leaves are checked."""
    leaves, spec = pytree.tree_flatten(tree)
    out = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            leaf = interp.tensors.lift(leaf)
        elif type(leaf) is not TensorProxy:
            # Constants (and symbolic sizes, computed inside the body when used) are passed
            # to the body as they are.
            if not (allow_constants and isinstance(leaf, (*CONSTANT_LEAVES, SymValue))):
                raise interp.refuse(
                    Category.CONTROL_FLOW_OP,
                    f"{what} may only contain tensors{' and Python constants' if allow_constants else ''}"
                    f", got {type(leaf).__name__}",
                    hint="pass tensors (nested in tuples, lists or dicts)")
        out.append(leaf)
    return out, spec


def copy_meta(meta: TensorMeta, *, requires_grad: bool | None = None) -> TensorMeta:
    copied = TensorMeta(meta.shape, meta.dtype, meta.device,
                        meta.requires_grad if requires_grad is None else requires_grad,
                        meta.strides, meta.storage_offset, meta.layout)
    copied.sym_strides = meta.sym_strides
    return copied


def input_copy_meta(meta: TensorMeta) -> TensorMeta:
    """Metadata of `x.clone()`: the body of a loop sees copies of the carried values."""
    return TensorMeta(meta.shape, meta.dtype, meta.device, meta.requires_grad, meta.strides, 0,
                      meta.layout)


def slice_meta(meta: TensorMeta) -> TensorMeta:
    """Metadata of `torch.select_copy(x, 0, 0)`: one slice along the leading dimension."""
    shape = meta.shape[1:]
    return TensorMeta(shape, meta.dtype, meta.device, meta.requires_grad,
                      contiguous_strides(tuple(_example_size(s) for s in shape)), 0, meta.layout)


def stacked_meta(meta: TensorMeta, length: Any) -> TensorMeta:
    """Metadata of torch.stack of `length` tensors like `meta`."""
    shape = (length, *meta.shape)
    return TensorMeta(shape, meta.dtype, meta.device, meta.requires_grad,
                      contiguous_strides(tuple(_example_size(s) for s in shape)), 0, meta.layout)


def _example_size(size: Any) -> int:
    """The size's hint (for data-dependent sizes, the example value the oracle uses)."""
    if not isinstance(size, SymValue):
        return size
    return size.hint if size.hint is not None else size.env.example_value(size.expr)


def same_size(a: Any, b: Any, env) -> bool:
    """Are two sizes the same expression (no guard is recorded)?"""
    if type(a) is int and type(b) is int:
        return a == b
    expr_a = a.expr if isinstance(a, SymValue) else sympy.Integer(a)
    expr_b = b.expr if isinstance(b, SymValue) else sympy.Integer(b)
    return env.resolve(expr_a) == env.resolve(expr_b)


def meta_differences(a: TensorMeta, b: TensorMeta, env) -> list[str]:
    """What differs between two tensors' metadata (dtype, device, layout, shape, strides)."""
    diffs = [f"{name} {x} vs {y}" for name, x, y in (
        ("dtype", a.dtype, b.dtype), ("device", a.device, b.device), ("layout", a.layout, b.layout))
        if x != y]
    if len(a.shape) != len(b.shape) or not all(same_size(x, y, env) for x, y in zip(a.shape, b.shape)):
        diffs.append(f"shape {shape_text(a.shape)} vs {shape_text(b.shape)}")
    elif a.strides != b.strides:
        diffs.append(f"stride {a.strides} vs {b.strides}")
    return diffs


def shape_text(shape: tuple) -> str:
    """A shape for messages (symbolic sizes as expressions: str() would specialize them)."""
    return f"({', '.join(str(getattr(s, 'expr', s)) for s in shape)}{',' if len(shape) == 1 else ''})"


def register_subgraphs(cur: GraphBuilder, parts: list[tuple[str, SubgraphBuilder]]) -> list[torch.fx.Node]:
    """Attach subgraphs to `cur` as `{prefix}_{i}` (one i for the group) and read them."""
    index = cur.unused_submodule_index(*(prefix for prefix, _ in parts))
    return [cur.get_attr(f"{prefix}_{index}", sub) for prefix, sub in parts]


def emit_operator(interp, hop: Any, args: tuple, outputs: list[Any],
                  kwargs: dict | None = None) -> list[Any]:
    """Emit `hop(*args, **kwargs)` and one getitem per tensor output.

    `outputs` holds, per output, its TensorMeta, the unbacked value it is, or the constant it
    always is.
    """
    cur = interp.state.graph
    node = cur.call(hop, args, kwargs or {}, tuple(outputs))
    values = []
    for index, out in enumerate(outputs):
        if isinstance(out, TensorMeta):
            item = cur.call(operator.getitem, (node, index), {}, out)
            values.append(interp.tensors.new_proxy(item, out, hop))
        elif isinstance(out, SymValue):     # a number the operator computes from data
            item = cur.call(operator.getitem, (node, index), {}, out)
            interp.state.sym_nodes.bind_value(next(iter(out.expr.free_symbols)), item, out.expr)
            values.append(out)
        else:
            values.append(out)
    return values
