"""torch._higher_order_ops.map: a body applied to every slice along the leading dimension,
captured as `torch.ops.higher_order.map_impl(body_graph_i, xs, args)`.

The body is traced once on a slice of each xs leaf (`xs[0]`'s metadata) and on the tensor
leaves of the extra arguments; Python constants among the extra arguments are baked into the
body. Tensors the body reads from outside are appended to `args` in order of first use.
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
from .hop_nodes import (bind, copy_meta, emit_operator, register_subgraphs, same_size, shape_text, slice_meta, stacked_meta, tensor_leaves)
from ..trace.subgraph import SubgraphBuilder, check_no_leaked_symbols, trace_body

_map_module = sys.modules["torch._higher_order_ops.map"]
_MAP_IMPL = torch.ops.higher_order.map_impl


@special(_map_module.map)
def map_(interp, args: tuple, kwargs: dict) -> Any:
    bound = bind(_map_module.map, args, kwargs)
    f, xs, extra = bound["f"], bound["xs"], bound["args"]
    flat_xs, xs_spec = tensor_leaves(interp, xs, "map xs", allow_constants=False)
    flat_args, args_spec = tensor_leaves(interp, extra, "map args", allow_constants=True)
    if not flat_xs:
        raise interp.refuse(Category.CONTROL_FLOW_OP, "map needs at least one tensor in xs",
                            hint="pass the tensor to map over as xs")
    length = _leading_size(interp, flat_xs)
    cur = interp.state.graph
    builder = SubgraphBuilder(interp, cur, "the body of map")
    slices = [builder.explicit_input(slice_meta(x.meta), f"slice of {x.describe()}") for x in flat_xs]
    body_args = [builder.explicit_input(copy_meta(a.meta), a.origin) if type(a) is TensorProxy else a
                 for a in flat_args]
    result = trace_body(interp, builder, f,
                        (pytree.tree_unflatten(slices, xs_spec), *pytree.tree_unflatten(body_args, args_spec)))
    out_leaves, out_spec = pytree.tree_flatten(result)
    check_no_leaked_symbols(interp, builder, [leaf.meta for leaf in out_leaves if type(leaf) is TensorProxy])
    outputs = []
    for index, leaf in enumerate(out_leaves):
        if isinstance(leaf, torch.Tensor):
            leaf = out_leaves[index] = interp.tensors.lift(leaf)
        if type(leaf) is TensorProxy:
            outputs.append(stacked_meta(leaf.meta, length))
        elif leaf is None:
            outputs.append(None)
        else:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the body of map must return tensors (or None), got "
                                f"{type(leaf).__name__} as output {index}",
                                hint="return tensors (nested in tuples, lists or dicts)")
    builder.finish(out_leaves)
    builder.order_inputs(list(builder.free))
    (body_attr,) = register_subgraphs(cur, [("body_graph", builder)])
    tensor_args = [a.node for a in flat_args if type(a) is TensorProxy]
    values = emit_operator(interp, _MAP_IMPL,
                           (body_attr, [x.node for x in flat_xs], [*tensor_args, *builder.free]), outputs)
    return pytree.tree_unflatten(values, out_spec)


def _leading_size(interp, flat_xs: list[TensorProxy]) -> Any:
    shapes = [x.meta.shape for x in flat_xs]
    if any(len(shape) == 0 for shape in shapes):
        raise interp.refuse(Category.CONTROL_FLOW_OP, "map cannot iterate over a 0-d tensor",
                            hint="pass tensors with a leading dimension to map over")
    length = shapes[0][0]
    if hint_of(length) == 0:
        raise interp.refuse(Category.CONTROL_FLOW_OP, "map cannot iterate over an empty dimension",
                            hint="torch.export traces the body on the first slice; pass a non-empty xs")
    if not all(same_size(shape[0], length, interp.state.shape_env) for shape in shapes):
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"the leading dimensions of map's xs differ: {', '.join(map(shape_text, shapes))}",
                            hint="map over tensors with the same leading size")
    return length
