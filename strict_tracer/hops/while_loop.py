"""torch._higher_order_ops.while_loop, captured as `torch.ops.higher_order.while_loop(
while_loop_cond_graph_i, while_loop_body_graph_i, carried_inputs, additional_inputs)`.

Both bodies take the flattened carried tensors, then the extra inputs (the outer tensors either
body reads, ordered as for cond). cond_fn must return a boolean scalar tensor (a constant
False returns the carried inputs unchanged, as torch does); body_fn must return tensors with
the carried inputs' metadata. Int carries become data-dependent values in torch.export and
are refused until the shape-guard engine provides unbacked symbols.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
import torch.utils._pytree as pytree

from ..errors import Category
from ..interpreter.registry import special
from ..proxy import TensorProxy
from ..symbolic import SymValue
from .hop_nodes import (bind, copy_meta, emit_operator, input_copy_meta, meta_differences, register_subgraphs, tensor_leaves)
from .naming import merge_free_inputs
from ..trace.subgraph import SubgraphBuilder, trace_body

_while_module = sys.modules["torch._higher_order_ops.while_loop"]
_WHILE_LOOP = torch.ops.higher_order.while_loop


@special(_while_module.while_loop)
def while_loop(interp, args: tuple, kwargs: dict) -> Any:
    bound = bind(_while_module.while_loop, args, kwargs)
    cond_fn, body_fn, carried = bound["cond_fn"], bound["body_fn"], bound["carried_inputs"]
    for name, fn in (("cond_fn", cond_fn), ("body_fn", body_fn)):
        if not callable(fn):
            raise interp.refuse(Category.CONTROL_FLOW_OP, f"while_loop {name} is not callable",
                                hint="pass functions as cond_fn and body_fn")
    if not isinstance(carried, (tuple, list)):
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"while_loop carried_inputs must be a tuple or list, got {type(carried).__name__}",
                            hint="pass the loop state as a tuple: while_loop(c, b, (i, x))")
    flat, spec = tensor_leaves(interp, carried, "while_loop carried_inputs", allow_constants=True)
    for leaf in flat:
        if type(leaf) is not TensorProxy:
            raise interp.refuse(
                Category.CONTROL_FLOW_OP,
                f"while_loop carries a Python {type(leaf).__name__} "
                f"({leaf.describe() if isinstance(leaf, SymValue) else repr(leaf)}); torch.export turns "
                "it into a data-dependent value, which strict_tracer does not support yet",
                hint="carry it as a tensor: torch.tensor(0) instead of 0")
    cur = interp.state.graph

    def trace(fn: Any, what: str) -> tuple[SubgraphBuilder, Any]:
        builder = SubgraphBuilder(interp, cur, what)
        inputs = [builder.explicit_input(input_copy_meta(x.meta), f"carried {x.describe()}") for x in flat]
        return builder, trace_body(interp, builder, fn, tuple(pytree.tree_unflatten(inputs, spec)))

    cond_builder, pred = trace(cond_fn, "the cond_fn of while_loop")
    if isinstance(pred, (bool, int)):
        if pred:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                "the cond_fn of while_loop always returns True: an infinite loop",
                                hint="return a boolean tensor computed from the carried values")
        return carried
    _check_pred(interp, pred)
    body_builder, result = trace(body_fn, "the body_fn of while_loop")
    out_leaves, out_spec = pytree.tree_flatten(result)
    _check_body_outputs(interp, flat, out_leaves)
    cond_builder.finish([pred], layout="bare")
    body_builder.finish(out_leaves)
    free = merge_free_inputs(cond_builder, body_builder)
    cond_builder.order_inputs(free)
    body_builder.order_inputs(free)
    cond_attr, body_attr = register_subgraphs(
        cur, [("while_loop_cond_graph", cond_builder), ("while_loop_body_graph", body_builder)])
    outputs = [copy_meta(x.meta) for x in flat]
    values = emit_operator(interp, _WHILE_LOOP,
                           (cond_attr, body_attr, tuple(x.node for x in flat), tuple(free)), outputs)
    return pytree.tree_unflatten(values, out_spec)


def _check_pred(interp, pred: Any) -> None:
    if isinstance(pred, torch.Tensor):
        pred = interp.tensors.lift(pred)
    if type(pred) is not TensorProxy or pred.meta.dtype is not torch.bool or pred.meta.shape != ():
        described = pred.meta.short_str() if type(pred) is TensorProxy else type(pred).__name__
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"the cond_fn of while_loop must return a boolean scalar tensor, got {described}",
                            hint="return e.g. (i < n) or x.sum() < 10 as a 0-d bool tensor")


def _check_body_outputs(interp, carried: list[TensorProxy], outputs: list[Any]) -> None:
    if len(outputs) != len(carried):
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"the body_fn of while_loop returns {len(outputs)} values for "
                            f"{len(carried)} carried inputs",
                            hint="return one new value per carried input, in the same structure")
    for index, (old, new) in enumerate(zip(carried, outputs)):
        if isinstance(new, torch.Tensor):
            new = outputs[index] = interp.tensors.lift(new)
        if type(new) is not TensorProxy:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the body_fn of while_loop returns a {type(new).__name__} for "
                                f"carried tensor {index}", hint="return tensors")
        diffs = meta_differences(new.meta, old.meta, interp.state.shape_env)
        if diffs:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"the body_fn of while_loop changes carried value {index}: "
                                f"{'; '.join(diffs)}",
                                hint="keep every carried tensor's shape, dtype and strides the same "
                                     "across iterations")
