"""Symbolic output shapes of ATen ops.

The oracle gives every output's shape at the hint values. When an op's inputs carry symbolic
sizes, the op's shape rule computes the symbolic output shape, whose value at the hints must
equal the oracle's. Ops without a rule cannot take symbolic inputs yet.
"""
from __future__ import annotations

from typing import Any

from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import SymValue


class NoShapeRule(Exception):
    """The op got symbolic inputs and has no rule to propagate them."""


def _has_symbolic(value: Any) -> bool:
    t = type(value)
    if t is TensorProxy:
        return not value.meta.is_static
    if isinstance(value, SymValue):
        return True
    if t in (list, tuple):
        return any(_has_symbolic(v) for v in value)
    if t is dict:
        return any(_has_symbolic(v) for v in value.values())
    return False


def apply_rule(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], shape_env) -> None:
    """Replace the hint shapes in `outputs` by symbolic shapes when the inputs are symbolic."""
    if not (_has_symbolic(args) or _has_symbolic(kwargs)):
        return
    raise NoShapeRule(f"{op} has no symbolic shape rule")
