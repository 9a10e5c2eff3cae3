"""torch._higher_order_ops.hints_wrap.hints_wrapper: a body called with compiler hints attached,
captured as `torch.ops.higher_order.hints_wrapper(hints_wrapper_body_graph_i, operands, {},
hints=...)`.

Eager calls the body on the arguments; the hints only annotate the program. The body is
traced into its own subgraph on the tensor arguments (Python numbers among them are baked
in); tensors it reads from outside are appended to the operands in order of first use. Its
outputs come back through one getitem each, in the structure the body returned.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
import torch.utils._pytree as pytree

from ..errors import Category
from ..interpreter.registry import special
from ..proxy import TensorProxy
from ..trace.subgraph import SubgraphBuilder, check_no_leaked_symbols, trace_body
from .hop_nodes import copy_meta, emit_operator, register_subgraphs

_hints_module = sys.modules["torch._higher_order_ops.hints_wrap"]
_HINTS_WRAPPER = torch.ops.higher_order.hints_wrapper
_HINT_VALUES = (int, float, bool, str)


def _check_call(args: Any, kwargs: Any, hints: Any) -> tuple:
    """The argument checks eager makes before calling the body (RuntimeError, as eager)."""
    args = tuple(args)
    if not all(isinstance(a, (torch.Tensor, TensorProxy, int, float, bool)) for a in args):
        raise RuntimeError(f"hints_wrapper: args must be tensors, ints, floats or bools, got {args}")
    if not isinstance(kwargs, dict) or kwargs:
        raise RuntimeError(f"hints_wrapper: kwargs must be an empty dict, got {kwargs!r}")
    if not isinstance(hints, dict):
        raise RuntimeError(f"hints_wrapper: hints must be a dict, got {type(hints)}")
    for key, value in hints.items():
        if not isinstance(key, str) or not isinstance(value, _HINT_VALUES):
            raise RuntimeError(f"hints_wrapper: hints map str keys to int, float, bool or str "
                               f"values, got {key!r}: {value!r}")
    return args


@special(_hints_module.hints_wrapper)
def hints_wrapper(interp, args: tuple, kwargs: dict) -> Any:
    body_fn, body_args, body_kwargs, hints = _bind(args, kwargs)
    body_args = tuple(interp.tensors.lift(a) if isinstance(a, torch.Tensor) and type(a) is not TensorProxy
                      else a for a in _check_call(body_args, body_kwargs, hints))
    cur = interp.state.graph
    builder = SubgraphBuilder(interp, cur, "the body of hints_wrapper")
    inputs = [builder.explicit_input(copy_meta(a.meta), a.origin) if type(a) is TensorProxy else a
              for a in body_args]
    result = trace_body(interp, builder, body_fn, tuple(inputs))
    out_leaves, out_spec = pytree.tree_flatten(result)
    for index, leaf in enumerate(out_leaves):
        if isinstance(leaf, torch.Tensor) and type(leaf) is not TensorProxy:
            leaf = out_leaves[index] = interp.tensors.lift(leaf)
        if type(leaf) is not TensorProxy:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the body of hints_wrapper must return tensors, got "
                                f"{type(leaf).__name__} as output {index}",
                                hint="return tensors (nested in tuples, lists or dicts)")
    check_no_leaked_symbols(interp, builder, [leaf.meta for leaf in out_leaves])
    builder.finish(out_leaves)
    builder.order_inputs(list(builder.free))
    (body_attr,) = register_subgraphs(cur, [("hints_wrapper_body_graph", builder)])
    operands = (*(a.node for a in body_args if type(a) is TensorProxy), *builder.free)
    values = emit_operator(interp, _HINTS_WRAPPER, (body_attr, operands, {}),
                           [copy_meta(leaf.meta) for leaf in out_leaves], kwargs={"hints": dict(hints)})
    return pytree.tree_unflatten(values, out_spec)


def _bind(args: tuple, kwargs: dict) -> tuple:
    """(body_fn, args, kwargs, hints) of a call `hints_wrapper(body_fn, args, kwargs, hints)`."""
    names = ("body_fn", "args", "kwargs", "hints")
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names or name in values:
            raise TypeError(f"hints_wrapper() got an unexpected or repeated argument {name!r}")
        values[name] = value
    missing = [name for name in names if name not in values]
    if missing:
        raise TypeError(f"hints_wrapper() missing required arguments: {', '.join(missing)}")
    return tuple(values[name] for name in names)
