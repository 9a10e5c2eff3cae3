"""Stage 3: flatten forward()'s return value into graph outputs and an out_spec."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree

from .trace import traced_pytree
from .errors import Category, GraphBreakError
from .proxy import TensorProxy
from .symbolic import SymValue

CONSTANT_OUTPUT_TYPES = (int, float, bool, str, type(None), torch.dtype, torch.device)


def _type_name(value: Any) -> str:
    from .interpreter.objects.protocols import type_name
    return type_name(value)


@dataclass
class TracedOutputs:
    values: list[Any]              # graph output entries: fx nodes or constants
    out_spec: pytree.TreeSpec


def collect_outputs(result: Any, state, interp: Any = None) -> TracedOutputs:
    """Graph outputs of forward()'s result (a registered container's flatten is interpreted
    when `interp` is given)."""
    if interp is None:
        leaves, out_spec = pytree.tree_flatten(result)
    else:
        leaves, out_spec = traced_pytree.flatten(interp, result)
    values: list[Any] = []
    for index, leaf in enumerate(leaves):
        if isinstance(leaf, torch.Tensor):
            leaf = state.lift(leaf)     # a parameter, buffer or constant returned as is
        if type(leaf) is TensorProxy:
            values.append(leaf.node)
        elif isinstance(leaf, SymValue):
            values.append(state.sym_nodes.node_for(leaf))   # a node, or a number if static
        elif isinstance(leaf, CONSTANT_OUTPUT_TYPES):
            values.append(leaf)
        else:
            raise GraphBreakError(Category.UNSUPPORTED_PYTHON,
                                  f"output {index} has type {_type_name(leaf)}, which cannot be "
                                  "an output of an exported program",
                                  hint="return tensors, Python scalars, or containers registered "
                                       "with torch.utils._pytree", operands=(leaf,))
    return TracedOutputs(values, out_spec)
