"""Pytree flatten/unflatten of traced values, with registered containers' code interpreted.

torch's `tree_unflatten` on the forward() inputs and `tree_flatten` on its return value would
run a registered container's flatten/unflatten functions natively, on proxies: a Hugging Face
`DynamicCache` unflattens with `torch.cat`-like tensor work and builds its layers in Python.
Here the walk over the TreeSpec is ours and every registered function that is not one of
pytree's own builtin containers (tuple, list, dict, namedtuple, OrderedDict, defaultdict,
deque) is called through the interpreter, like user code: its tensor work becomes graph nodes.
"""
from __future__ import annotations

from typing import Any

import torch.utils._pytree as pytree

from ..errors import Category, GraphBreakError
from ..known_containers import register_if_known
from ..proxy import TensorProxy
from ..symbolic import SymValue

_NATIVE_NODE_TYPES = pytree.BUILTIN_TYPES


def unflatten(interp: Any, values: list, spec: pytree.TreeSpec) -> Any:
    """`pytree.tree_unflatten(values, spec)` with registered unflatten functions interpreted."""
    if len(values) != spec.num_leaves:
        raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(values)} but the "
                         f"spec refers to a pytree that holds {spec.num_leaves} items")
    return _unflatten(interp, values, 0, spec)


def _unflatten(interp: Any, values: list, start: int, spec: pytree.TreeSpec) -> Any:
    if spec.is_leaf():
        return values[start]
    children = []
    for child in spec.children():
        children.append(_unflatten(interp, values, start, child))
        start += child.num_leaves
    unflatten_fn = pytree.SUPPORTED_NODES[spec.type].unflatten_fn
    if spec.type in _NATIVE_NODE_TYPES:
        return unflatten_fn(children, spec.context)
    return interp.call(unflatten_fn, (children, spec.context), {})


def flatten(interp: Any, tree: Any) -> tuple[list, pytree.TreeSpec]:
    """`pytree.tree_flatten(tree)` with registered flatten functions interpreted."""
    leaves: list = []
    return leaves, _flatten(interp, tree, leaves)


def _flatten(interp: Any, node: Any, leaves: list) -> pytree.TreeSpec:
    node_type = pytree._get_node_type(node)
    registered = pytree.SUPPORTED_NODES.get(node_type)
    if registered is None and register_if_known(node_type):
        registered = pytree.SUPPORTED_NODES[node_type]
    if registered is None:
        leaves.append(node)
        return pytree._LEAF_SPEC
    if node_type in _NATIVE_NODE_TYPES:
        children, context = registered.flatten_fn(node)
    else:
        children, context = interp.call(registered.flatten_fn, (node,), {})
        _check_context(node_type, context)
    children = list(children)
    return pytree.TreeSpec(node_type, context, [_flatten(interp, c, leaves) for c in children])


def _check_context(node_type: type, context: Any) -> None:
    """The context is stored in the program's out_spec: a traced value there would be frozen."""
    traced = _traced_in(context)
    if traced is not None:
        raise GraphBreakError(
            Category.UNSUPPORTED_PYTHON,
            f"the pytree flatten function of {node_type.__qualname__} puts a traced value "
            f"({type(traced).__name__}) in its context, which export stores as a constant",
            hint="return tensors and symbolic sizes as children of the flatten function, and "
                 "keep only plain Python values in its context", operands=(traced,))


def _traced_in(value: Any) -> Any:
    """The first proxy or symbolic value inside plain containers, or None."""
    if type(value) is TensorProxy or isinstance(value, SymValue):
        return value
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _traced_in(item)
            if found is not None:
                return found
    return None
