"""Torch SymInt arithmetic done once per expression while packaging makes node values.

Making a fake tensor with symbolic sizes runs torch's storage-size and numel arithmetic on
its SymInts (about nine SymNode operations, each a Python call into torch's SymNode with
sympy work: most of a dynamic program's packaging). A model's layers repeat the same
layouts, so the same operations recur on the same nodes. Sizes made for packaging are
`SharedSymNode`s: while `sharing()` is active, a binary operation, an int wrapped as a
node, or `maybe_as_int` of a node is answered from what the same call on the same nodes
returned (SymNodes are values: the answer is the node torch would compute again), and so
is a decision on a SymBool node (guard_or_false, expect_true) while the ShapeEnv is
unchanged. When the block ends every node it made a SharedSymNode is a plain SymNode again,
so the exported
program's node values are torch's own type. Nothing is shared under a proxy mode (make_fx
records SymInt operations as graph nodes) or after the ShapeEnv's replacements change.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from torch.fx.experimental.proxy_tensor import get_proxy_mode
from torch.fx.experimental.sym_node import SymNode

_BINARY = ("add", "sub", "mul", "mod", "eq", "ne", "gt", "lt", "le", "ge", "sym_min",
           "sym_max", "int_floordiv", "floordiv", "int_truediv", "truediv", "pow_by_natural")
_table: dict | None = None     # (what, id(a), id(b), replacements) -> (a, b, result)
_marked: list[SymNode] = []    # the nodes made SharedSymNodes in the current sharing() block


class SharedSymNode(SymNode):
    """A SymNode whose arithmetic is shared within `sharing()` (see the module docstring)."""

    _st_as_int: tuple | None = None     # (replacements version, maybe_as_int)


def _version(node: SymNode) -> int:
    env = node.shape_env
    return 0 if env is None else len(env.replacements)


def _shared_binary(name: str):
    base = getattr(SymNode, name)

    def method(self: SymNode, other: SymNode) -> SymNode:
        table = _table
        if table is None:
            return base(self, other)
        key = (name, id(self), id(other), _version(self))
        hit = table.get(key)
        if hit is not None:
            return hit[2]
        out = base(self, other)
        if type(out) is SymNode:
            _mark(out)
        table[key] = (self, other, out)       # the operands stay alive: their ids stay theirs
        return out
    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


def _wrap_int(self: SymNode, num: int) -> SymNode:
    table = _table
    if table is None:
        return SymNode.wrap_int(self, num)
    key = ("int", type(num), num, id(self.shape_env))
    hit = table.get(key)
    if hit is not None:
        return hit[2]
    out = SymNode.wrap_int(self, num)
    _mark(out)
    table[key] = (self.shape_env, None, out)
    return out


def _maybe_as_int(self: SymNode) -> int | None:
    """Kept on the node (torch asks it of every size of every tensor it makes)."""
    if _table is None:
        return SymNode.maybe_as_int(self)
    version = _version(self)
    memo = self._st_as_int
    if memo is not None and memo[0] == version:
        return memo[1]
    out = SymNode.maybe_as_int(self)
    self._st_as_int = (version, out)
    return out


def _shared_decision(name: str):
    """A SymBool's guard_or_false / guard_or_true / expect_true, answered again while the
    ShapeEnv's state (its own cache version: replacements, divisibility, deferred runtime
    asserts) is what it was; a call that changed that state (an unbacked expect_true that
    deferred an assert) is not kept."""
    base = getattr(SymNode, name)

    def method(self: SymNode, file: str, line: int) -> bool:
        table = _table
        env = self.shape_env
        state = getattr(env, "_version_counter", None)
        if table is None or state is None:
            return base(self, file, line)
        key = (name, id(self), state)
        hit = table.get(key)
        if hit is not None:
            return hit[2]
        out = base(self, file, line)
        if env._version_counter == state:
            table[key] = (self, None, out)
        return out
    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


for _name in _BINARY:
    setattr(SharedSymNode, _name, _shared_binary(_name))
for _name in ("guard_or_false", "guard_or_true", "expect_true"):
    setattr(SharedSymNode, _name, _shared_decision(_name))
SharedSymNode.wrap_int = _wrap_int
SharedSymNode.maybe_as_int = _maybe_as_int


def _mark(node: SymNode) -> None:
    node.__class__ = SharedSymNode
    _marked.append(node)


def share(value: Any) -> Any:
    """`value` (a torch SymInt made for packaging) with a SharedSymNode while `sharing()` is
    active; outside it, `value` as it is."""
    node = getattr(value, "node", None)
    if _table is not None and type(node) is SymNode:
        _mark(node)
    return value


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    """Share SharedSymNode arithmetic until the block ends (not under a proxy mode)."""
    global _table
    if get_proxy_mode() is not None or _table is not None:
        yield
        return
    _table = {}
    try:
        yield
    finally:
        _table = None
        for node in _marked:
            node.__class__ = SymNode
            node.__dict__.pop("_st_as_int", None)
        _marked.clear()
