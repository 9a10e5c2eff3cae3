"""Tensors whose value is known while tracing, as torch.export knows them: a one-element
tensor made from Python constants (`torch.tensor(2)`, `torch.as_tensor(2) + 1`) has the same
value for every input, so `[a, b, c][t]`, `int(t)` and `bool(t)` read it (FakeTensor's
constant propagation: every tensor on the way has at most one element).

The value is computed from the lifted constants by the graph's own ATen ops on real tensors.
Nothing seeded-random, nothing that reads a program input, and nothing a mutating op has
touched (the constant or anything made from it, views included) is known.
"""
from __future__ import annotations

from typing import Any

import torch

from ...trace.graph import CONSTANT

_MAX_NODES = 32                      # a constant expression longer than this is not folded
_METADATA_ONLY = frozenset({torch.ops.aten.detach_.default})


def known_value(state: Any, node: torch.fx.Node) -> torch.Tensor | None:
    """The real value of `node`'s tensor when it depends on constants only, else None."""
    constants = {lifted.node: lifted.tensor for lifted in state.graph.lifted
                 if lifted.kind == CONSTANT}
    memo: dict[torch.fx.Node, Any] = {}
    try:
        value = _evaluate(node, constants, memo)
    except _Unknown:
        return None
    return value if isinstance(value, torch.Tensor) else None


class _Unknown(Exception):
    pass


def _evaluate(node: torch.fx.Node, constants: dict, memo: dict) -> Any:
    if node in memo:
        return memo[node]
    if len(memo) >= _MAX_NODES or _mutated(node):
        raise _Unknown
    if node in constants:
        value = constants[node]
    elif node.target in _METADATA_ONLY:     # torch.tensor(...)'s detach_: the same values
        value = _evaluate(node.args[0], constants, memo)
    elif node.op == "call_function" and _pure(node.target):
        args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs),
                                             lambda n: _evaluate(n, constants, memo))
        if not all(_plain(a) for a in torch.utils._pytree.tree_leaves((args, kwargs))):
            raise _Unknown
        value = node.target(*args, **kwargs)
    else:
        raise _Unknown
    if not isinstance(value, torch.Tensor) or value.numel() > 1:
        raise _Unknown
    memo[node] = value
    return value


def _pure(target: Any) -> bool:
    return (isinstance(target, torch._ops.OpOverload) and not target._schema.is_mutable
            and torch.Tag.nondeterministic_seeded not in target.tags)


def _plain(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, int, float, bool, torch.dtype, torch.device,
                              torch.layout, torch.memory_format, type(None)))


def _mutated(node: torch.fx.Node) -> bool:
    """Some op writes into this tensor or into anything made from it (conservative: every
    later use is followed, aliasing or not)."""
    seen, todo = set(), [node]
    while todo:
        if len(seen) > 2000:
            return True
        current = todo.pop()
        for user in current.users:
            if user in seen:
                continue
            seen.add(user)
            target = user.target
            if isinstance(target, torch._ops.OpOverload) and target._schema.is_mutable \
                    and target not in _METADATA_ONLY:
                return True
            todo.append(user)
    return False
