"""The rule registry: which shape rule computes an ATen overload's symbolic output shapes.

A rule is a function of the call's arguments bound to the overload's schema names
(`Bound`), returning the output shape (a tuple of int | SymInt) for single-tensor outputs,
or a list of shapes, one per tensor output, for tuple/list outputs. Rules are plain Python
on symbolic sizes: a comparison used in an `if` records a guard through the shape
environment, and `common.expect` states facts that must hold.

Lookup order: a rule registered for the exact overload, then one registered for the
overload packet (all overloads of `aten.foo`), then the family rule the op's tags select
(pointwise ops broadcast their tensor arguments).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

Shape = tuple
Rule = Callable[["Bound"], Any]

_BY_OVERLOAD: dict[Any, Rule] = {}
_BY_PACKET: dict[Any, Rule] = {}
_FAMILIES: list[tuple[Callable[[Any], bool], Rule]] = []
_resolved: dict[Any, Rule | None] = {}
_ALWAYS: set[Any] = set()


class ShapeRuleError(Exception):
    """A rule met arguments it cannot handle or a fact that does not hold at the hints."""


class Bound(dict):
    """The call's arguments by schema name, defaults filled in; `op` is the overload, `env`
    the shape environment and `outputs` the oracle's output metadata."""

    __slots__ = ("op", "env", "outputs", "_pool")

    def __init__(self, op: Any, values: dict, env: Any = None, outputs: list | None = None):
        super().__init__(values)
        self.op = op
        self.env = env
        self.outputs = outputs or []
        self._pool: list | None = None

    def unbacked(self, source: str, lower=0, upper=None) -> Any:
        """A size that depends on tensor data: the next unbacked size the oracle's outputs
        already carry (dispatch allocates those from torch's probe), else a fresh one."""
        if self._pool is None:
            seen: dict = {}
            for meta in self.outputs:
                for size in meta.shape:
                    if getattr(size, "hint", 0) is None and size.expr not in seen:
                        seen[size.expr] = size
            self._pool = list(seen.values())
        if self._pool:
            return self._pool.pop(0)
        kwargs = {"lower": lower, "size_like": True}
        if upper is not None:
            kwargs["upper"] = upper
        return self.env.create_unbacked(source, **kwargs)


def register(*ops: Any, always: bool = False) -> Callable[[Rule], Rule]:
    """Register a rule for overloads (`aten.view.default`) or whole packets (`aten.view`).

    `always`: the rule runs for static inputs too (data-dependent output sizes).
    """
    def deco(fn: Rule) -> Rule:
        for op in ops:
            if always:
                _ALWAYS.add(op)
            if isinstance(op, torch._ops.OpOverloadPacket):
                _BY_PACKET[op] = fn
            else:
                _BY_OVERLOAD[op] = fn
        _resolved.clear()
        return fn
    return deco


def register_family(matches: Callable[[Any], bool]) -> Callable[[Rule], Rule]:
    """Register a rule for every overload that `matches(op)` accepts (checked in order)."""
    def deco(fn: Rule) -> Rule:
        _FAMILIES.append((matches, fn))
        _resolved.clear()
        return fn
    return deco


def runs_always(op: Any) -> bool:
    """True when the op's output shape can be symbolic even for static inputs."""
    try:
        return op in _ALWAYS
    except TypeError:
        return False


def find_rule(op: Any) -> Rule | None:
    """The rule for an ATen overload, or None."""
    try:
        return _resolved[op]
    except KeyError:
        pass
    except TypeError:       # unhashable callable
        return None
    rule = _BY_OVERLOAD.get(op)
    if rule is None and isinstance(op, torch._ops.OpOverload):
        rule = _BY_PACKET.get(op.overloadpacket)
        if rule is None:
            rule = next((fn for matches, fn in _FAMILIES if matches(op)), None)
    _resolved[op] = rule
    return rule


def bind(op: Any, args: tuple, kwargs: dict, env: Any = None, outputs: list | None = None) -> Bound:
    """Bind positional and keyword arguments to the overload's schema argument names."""
    schema = op._schema
    values: dict[str, Any] = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(args) and not arg.kwarg_only:
            values[arg.name] = args[i]
        elif arg.name in kwargs:
            values[arg.name] = kwargs[arg.name]
        elif arg.has_default_value():
            values[arg.name] = arg.default_value
        else:
            values[arg.name] = None
    return Bound(op, values, env, outputs)


def covered_ops() -> tuple[list[Any], list[Any], list[Rule]]:
    """Registered overloads, packets and family rules (for reports and tests)."""
    return list(_BY_OVERLOAD), list(_BY_PACKET), [fn for _, fn in _FAMILIES]
