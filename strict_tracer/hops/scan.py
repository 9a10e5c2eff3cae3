"""torch._higher_order_ops.scan, captured as `torch.ops.higher_order.scan(
scan_combine_graph_i, init, xs, additional_inputs)`.

`combine_fn(carry, x) -> (next_carry, y)` is traced once on the init leaves and one slice of
each xs leaf; the operator returns the last carry and the ys stacked along the scan
dimension. As in torch's own `scan`, `dim` and `reverse` are applied outside the operator
(movedim / flip in the enclosing graph), and outer tensors the body reads become the
additional inputs in order of first use.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
import torch.utils._pytree as pytree

from ..errors import Category
from ..interpreter.registry import special
from ..proxy import TensorProxy
from ..symbolic import hint_of
from .hop_nodes import (bind, copy_meta, emit_operator, input_copy_meta, meta_differences, register_subgraphs, same_size, slice_meta, stacked_meta, tensor_leaves)
from ..trace.subgraph import SubgraphBuilder, check_no_leaked_symbols, trace_body

_scan_module = sys.modules["torch._higher_order_ops.scan"]
_SCAN = torch.ops.higher_order.scan


@special(_scan_module.scan)
def scan(interp, args: tuple, kwargs: dict) -> Any:
    bound = bind(_scan_module.scan, args, kwargs)
    combine_fn, init, xs = bound["combine_fn"], bound["init"], bound["xs"]
    dim, reverse = bound["dim"], bound["reverse"]
    flat_init, init_spec = tensor_leaves(interp, init, "scan init", allow_constants=False)
    flat_xs, xs_spec = tensor_leaves(interp, xs, "scan xs", allow_constants=False)
    if not flat_xs:
        return init, []
    _check_arguments(interp, combine_fn, flat_init, flat_xs, dim, reverse)
    ndim = flat_xs[0].meta.ndim
    dim = dim + ndim if dim < 0 else dim
    if dim != 0:
        flat_xs = [interp.call(torch.movedim, (x, dim, 0), {}) for x in flat_xs]
    if reverse:
        flat_xs = [interp.call(torch.flip, (x, [0]), {}) for x in flat_xs]
    length = flat_xs[0].meta.shape[0]
    cur = interp.state.graph
    builder = SubgraphBuilder(interp, cur, "the combine_fn of scan")
    carry_in = [builder.explicit_input(input_copy_meta(c.meta), f"carry {c.describe()}") for c in flat_init]
    slices = [builder.explicit_input(slice_meta(x.meta), f"slice of {x.describe()}") for x in flat_xs]
    result = trace_body(interp, builder, combine_fn,
                        (pytree.tree_unflatten(carry_in, init_spec), pytree.tree_unflatten(slices, xs_spec)))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            "the combine_fn of scan must return a pair (next_carry, y)",
                            hint="return (new_carry, y) from combine_fn")
    carry_leaves, carry_spec = pytree.tree_flatten(result[0])
    y_leaves, y_spec = pytree.tree_flatten(result[1])
    _check_carry(interp, flat_init, carry_leaves)
    ys = []
    for index, leaf in enumerate(y_leaves):
        if isinstance(leaf, torch.Tensor):
            leaf = y_leaves[index] = interp.tensors.lift(leaf)
        if type(leaf) is not TensorProxy:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the combine_fn of scan returns a {type(leaf).__name__} in y",
                                hint="return tensors as the per-step outputs")
        ys.append(stacked_meta(leaf.meta, length))
    check_no_leaked_symbols(interp, builder, ys)
    builder.finish([*carry_leaves, *y_leaves], layout="list")
    builder.order_inputs(list(builder.free))
    (combine_attr,) = register_subgraphs(cur, [("scan_combine_graph", builder)])
    outputs = [copy_meta(c.meta) for c in flat_init] + ys
    values = emit_operator(interp, _SCAN, (combine_attr, [c.node for c in flat_init],
                                           [x.node for x in flat_xs], tuple(builder.free)), outputs)
    carry_out, y_out = values[:len(flat_init)], values[len(flat_init):]
    if reverse:
        y_out = [interp.call(torch.flip, (y, [0]), {}) for y in y_out]
    if dim != 0:
        y_out = [interp.call(torch.movedim, (y, 0, dim), {}) if dim < y.meta.ndim else y for y in y_out]
    return pytree.tree_unflatten(carry_out, carry_spec), pytree.tree_unflatten(y_out, y_spec)


def _check_arguments(interp, combine_fn: Any, flat_init: list, flat_xs: list, dim: Any, reverse: Any) -> None:
    problem = None
    if not callable(combine_fn):
        problem = "combine_fn is not callable"
    elif type(dim) is not int:
        problem = f"dim must be an int, got {type(dim).__name__}"
    elif type(reverse) is not bool:
        problem = f"reverse must be a bool, got {type(reverse).__name__}"
    elif not flat_init:
        problem = "scan needs at least one tensor in init"
    elif any(not -x.meta.ndim <= dim < x.meta.ndim for x in flat_xs):
        problem = f"every xs tensor needs a dimension {dim} to scan over"
    else:
        lengths = [x.meta.shape[dim] for x in flat_xs]
        if hint_of(lengths[0]) == 0:
            problem = "scan cannot iterate over an empty dimension"
        elif not all(same_size(n, lengths[0], interp.state.shape_env) for n in lengths):
            problem = f"the xs tensors have different lengths along dimension {dim}"
    if problem is not None:
        raise interp.refuse(Category.CONTROL_FLOW_OP, problem,
                            hint="see torch._higher_order_ops.scan's documentation for its arguments")


def _check_carry(interp, init: list[TensorProxy], carry: list[Any]) -> None:
    if len(carry) != len(init):
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"the combine_fn of scan returns {len(carry)} carry values for "
                            f"{len(init)} init values", hint="return the carry in init's structure")
    for index, (old, new) in enumerate(zip(init, carry)):
        if isinstance(new, torch.Tensor):
            new = carry[index] = interp.tensors.lift(new)
        if type(new) is not TensorProxy:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the combine_fn of scan returns a {type(new).__name__} as carry {index}",
                                hint="return tensors as the carry")
        diffs = meta_differences(old.meta, new.meta, interp.state.shape_env)
        if diffs:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the combine_fn of scan changes carry {index}: {'; '.join(diffs)}",
                                hint="keep every carry's shape, dtype and strides the same across steps")
