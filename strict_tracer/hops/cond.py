"""torch.cond: a data-dependent if/else captured as `torch.ops.higher_order.cond`.

A Python (constant) predicate selects a branch at trace time, as torch.export does. A tensor
predicate traces both branches into `true_graph_i` / `false_graph_i`; the values they read
from outside become extra operands (see naming.py for their order) and their outputs must
agree in structure and metadata.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any

import torch
import torch.utils._pytree as pytree

from ..errors import Category
from ..interpreter.registry import special
from ..proxy import TensorProxy
from ..symbolic import SymBool, SymInt
from .hop_nodes import (bind, copy_meta, emit_operator, meta_differences, register_subgraphs, tensor_leaves)
from .naming import merge_free_inputs
from ..trace.subgraph import SubgraphBuilder, check_no_leaked_symbols, trace_body

_cond_module = sys.modules["torch._higher_order_ops.cond"]
_COND_OP = torch.ops.higher_order.cond
_CONSTANT_PRED_WARNING = (
    "Pred is a Python constant. When used with torch.cond, it specializes on one of the branches."
    " If you want torch.cond to preserve two branches, please make the predicate a boolean tensor"
    " or a SymBool.")


@special(_cond_module.cond, _COND_OP)
def cond(interp, args: tuple, kwargs: dict) -> Any:
    bound = bind(_cond_module.cond, args, kwargs)
    pred, true_fn, false_fn, operands = (bound[k] for k in ("pred", "true_fn", "false_fn", "operands"))
    if not isinstance(operands, (tuple, list)):
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"torch.cond operands must be a tuple or list, got {type(operands).__name__}",
                            hint="pass the branch inputs as a tuple: torch.cond(pred, f, g, (x,))")
    leaves, spec = tensor_leaves(interp, operands, "torch.cond operands", allow_constants=True)
    operands = pytree.tree_unflatten(leaves, spec)
    for name, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
        if not callable(fn):
            raise interp.refuse(Category.CONTROL_FLOW_OP, f"torch.cond {name} is not callable",
                                hint="pass functions for both branches")
    if isinstance(pred, (bool, int, float)):
        frame = interp.frames[-1]
        warnings.warn_explicit(_CONSTANT_PRED_WARNING, UserWarning, frame.code.co_filename,
                               frame.lineno or 0)
        return interp.call(true_fn if pred else false_fn, tuple(operands), {})
    pred_node = _pred_node(interp, pred)
    cur = interp.state.graph
    branches = []
    for side, fn in (("true", true_fn), ("false", false_fn)):
        builder = SubgraphBuilder(interp, cur, f"the {side} branch of torch.cond")
        builder.operands = [leaf for leaf in leaves if type(leaf) is TensorProxy]
        result = trace_body(interp, builder, fn, tuple(operands))
        out_leaves, out_spec = pytree.tree_flatten(result)
        branches.append((builder, out_leaves, out_spec))
    (t_builder, t_leaves, t_spec), (f_builder, f_leaves, f_spec) = branches
    if t_spec != f_spec:
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"the branches of torch.cond return different structures: {t_spec} "
                            f"vs {f_spec}", hint="return the same tuple/list/dict of tensors from both")
    outputs = _merge_outputs(interp, t_leaves, f_leaves)
    for builder in (t_builder, f_builder):     # (cond's own data-dependent ints aside)
        check_no_leaked_symbols(interp, builder, [o for o in outputs if not isinstance(o, SymInt)])
    t_builder.finish(t_leaves)
    f_builder.finish(f_leaves)
    free = merge_free_inputs(t_builder, f_builder)
    t_builder.order_inputs(free)
    f_builder.order_inputs(free)
    true_attr, false_attr = register_subgraphs(cur, [("true_graph", t_builder), ("false_graph", f_builder)])
    values = emit_operator(interp, _COND_OP, (pred_node, true_attr, false_attr, tuple(free)), outputs)
    return pytree.tree_unflatten(values, t_spec)


def _pred_node(interp, pred: Any) -> torch.fx.Node:
    """The node computing the predicate: a one-element tensor or a symbolic bool."""
    if isinstance(pred, torch.Tensor):
        pred = interp.tensors.lift(pred)
    if isinstance(pred, SymBool):
        return interp.state.sym_nodes.node_for(pred)
    if type(pred) is not TensorProxy:
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"torch.cond expects a bool or a one-element tensor as predicate, got "
                            f"{type(pred).__name__}", hint="pass e.g. x.sum() > 0")
    if pred.meta.is_static:
        numel = 1
        for size in pred.meta.shape:
            numel *= size
        if numel != 1:
            raise interp.refuse(Category.CONTROL_FLOW_OP,
                                f"torch.cond expects a one-element predicate, got a tensor of shape "
                                f"{list(pred.meta.shape)}", operands=(pred,),
                                hint="reduce it first, e.g. (x > 0).all() or x.sum() > 0")
    return pred.node


def _merge_outputs(interp, true_leaves: list[Any], false_leaves: list[Any]) -> list[Any]:
    """The metadata of cond's outputs (or the int a non-tensor output always is).

    Real tensors returned by a branch (a parameter, a global) are replaced by their proxies.
    """
    for leaves in (true_leaves, false_leaves):
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, torch.Tensor):
                leaves[i] = interp.tensors.lift(leaf)
    merged: list[Any] = []
    for index, (t, f) in enumerate(zip(true_leaves, false_leaves)):
        if type(t) is TensorProxy and type(f) is TensorProxy:
            diffs = meta_differences(t.meta, f.meta, interp.state.shape_env)
            sizes_only = all(d.startswith(("shape", "stride")) for d in diffs)
            if diffs:
                raise interp.refuse(
                    Category.CONTROL_FLOW_OP,
                    f"the branches of torch.cond return tensors with different metadata as output "
                    f"{index}: {'; '.join(diffs)}"
                    + ("; torch.export would give this output data-dependent sizes, which "
                       "strict_tracer does not support yet" if sizes_only else ""),
                    hint="make both branches return tensors of the same shape, dtype and layout",
                    operands=(t, f))
            merged.append(copy_meta(t.meta, requires_grad=t.meta.requires_grad or f.meta.requires_grad))
        elif type(t) is int and type(f) is int:
            # Different ints: which one depends on the predicate's data, a value read from
            # data (as torch.export has it) known to lie between the two.
            merged.append(t if t == f else interp.state.shape_env.create_unbacked(
                f"output {index} of torch.cond", SymInt, lower=min(t, f), upper=max(t, f)))
        else:
            raise interp.refuse(
                Category.CONTROL_FLOW_OP,
                f"the branches of torch.cond must return tensors or ints, got {type(t).__name__} "
                f"and {type(f).__name__} as output {index}",
                hint="return tensors (nested in tuples, lists or dicts) from both branches")
    return merged
