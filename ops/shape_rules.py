"""Symbolic output shapes of ATen ops.

The oracle gives every output's shape at the hint values. When an op's inputs carry symbolic
sizes, the op's shape rule (`ops/rules/`, one module per family) computes the symbolic output
shape; its value at the hints is checked against the oracle's on every call. An op without a
rule, or a rule that cannot handle its arguments, gets its shapes and guards from torch's own
kernel run on symbolic stand-ins (kernel_shapes); so does a rule that meets a question
about a data-dependent size it cannot decide. Only when that kernel cannot run
symbolically are the inputs specialized to their hints (guards), said on the
`strict_tracer.shapes` logger: a lost dynamic dim, never a wrong shape.
"""
from __future__ import annotations

import logging
from typing import Any

import sympy
import torch

from strict_tracer.errors import InternalTracerError
from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import DataDependentError, SymValue

from .kernel_shapes import KernelShapeError, kernel_layouts, kernel_shapes
from .rule_memo import call_key, engine_state, keep, memo_for, recall
from .rules import ShapeRuleError, bind, find_rule, runs_always
from .view_strides import view_strides

log = logging.getLogger("strict_tracer.shapes")


_PLAIN = frozenset((int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
                    torch.memory_format))


def has_symbolic(value: Any) -> bool:
    """Does `value` (nested in lists/tuples/dicts) hold a symbolic size or a dynamic tensor?"""
    t = type(value)
    if t is TensorProxy:
        return not value.meta.is_static
    if t is tuple or t is list:     # the common containers first, without isinstance
        for v in value:
            if has_symbolic(v):
                return True
        return False
    if t in _PLAIN:
        return False
    if isinstance(value, SymValue):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(has_symbolic(v) for v in value.values())
    return False


def apply_rule(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], shape_env) -> None:
    """Replace the hint shapes in `outputs` by symbolic shapes when the inputs are symbolic;
    a call made before with the same layouts, the engine knowing the same, is answered as
    then (rule_memo)."""
    if not (has_symbolic(args) or has_symbolic(kwargs) or runs_always(op)):
        return
    memo = memo_for(shape_env)
    key = call_key(op, args, kwargs, outputs, shape_env)
    if key is not None:
        kept = recall(memo, key, shape_env)
        if kept is not None:
            for meta, (shape, strides) in zip(outputs, kept):
                meta.shape, meta.sym_strides = shape, strides
            return
    before = engine_state(shape_env)
    _apply_rule(op, args, kwargs, outputs, shape_env)
    if key is not None:
        keep(memo, key, before, shape_env, outputs)


def _apply_rule(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], shape_env) -> None:
    rule = find_rule(op)
    shapes = None
    if rule is not None:
        try:
            result = rule(bind(op, args, kwargs, shape_env, outputs))
            shapes = [result] if isinstance(result, tuple) else list(result)
        except (ShapeRuleError, DataDependentError):
            # DataDependentError: the rule asked a question about a size read from data that
            # no fact decides. torch's kernel answers such questions as torch.export does
            # (guard_or_false, size-oblivious reasoning, runtime asserts), so it decides.
            pass
    if shapes is None:
        try:
            shapes = kernel_shapes(op, args, kwargs, outputs, shape_env)
        except KernelShapeError as exc:
            specialize(op, args, kwargs, shape_env, f"its kernel cannot run symbolically ({exc})")
            return
    _check_against_oracle(op, shapes, outputs)
    for meta, new in zip(outputs, shapes):
        meta.shape = tuple(new)
        _sizes_are_sizes(meta.shape, shape_env)
    if _returns_views(op) and _has_dynamic_tensor((args, kwargs)):
        _view_strides(op, args, kwargs, outputs, shape_env)


def _returns_views(op: Any) -> bool:
    schema = getattr(op, "_schema", None)
    return schema is not None and any(r.alias_info is not None for r in schema.returns)


def _has_dynamic_tensor(value: Any) -> bool:
    t = type(value)
    if t is TensorProxy:
        return not value.meta.is_static
    if isinstance(value, (list, tuple)):
        return any(_has_dynamic_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_has_dynamic_tensor(v) for v in value.values())
    return False


def _view_strides(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], shape_env) -> None:
    """The symbolic strides of a view of a tensor with dynamic sizes or strides: the hints do
    not tell them (`x[:, :6]` of a width-6 x is dense at the hints, strided at width 7). By
    formula for the common views, else from torch's kernel on stand-ins (with its guards)."""
    by_formula = view_strides(op, args, kwargs, [meta.shape for meta in outputs])
    if by_formula is not None and (len(by_formula) != len(outputs) or any(
            _at_hints(strides) != tuple(meta.strides) for strides, meta in zip(by_formula, outputs))):
        by_formula = None       # a size-1 dim's stride, say: the kernel knows which
    if by_formula is not None:
        all_strides = [tuple(strides) for strides in by_formula]
    else:
        try:
            all_strides = [s for _, s in kernel_layouts(op, args, kwargs, outputs, shape_env)]
        except KernelShapeError as exc:
            log.debug("no symbolic strides for %s: %s", op, exc)
            return
    for meta, strides in zip(outputs, all_strides):
        meta.sym_strides = strides


def _at_hints(strides: list) -> tuple:
    """The strides at the hints (a stride read from data matches any)."""
    return tuple(s if type(s) is int else _ANY if s.hint is None else s.hint for s in strides)


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None


_ANY = _Any()


def _sizes_are_sizes(shape: tuple, shape_env) -> None:
    """A size computed from data (`expand(u2)`) is >= 0 wherever the op runs: a runtime
    assert, as torch's kernels make it, unless the facts already say so."""
    for size in shape:
        if isinstance(size, SymValue) and size.hint is None and \
                shape_env.hint_value(size.expr) is None:
            shape_env.check(sympy.Ge(size.expr, 0))


def _check_against_oracle(op: Any, shapes: list[tuple], outputs: list[TensorMeta]) -> None:
    """A rule's shapes at the hints must be the oracle's shapes: anything else is our bug."""
    if len(shapes) != len(outputs):
        raise InternalTracerError(f"shape rule of {op} gave {len(shapes)} outputs, the op has "
                                  f"{len(outputs)}")
    for new, meta in zip(shapes, outputs):
        want = meta.shape
        got = tuple(s.hint if isinstance(s, SymValue) else s for s in new)
        if None in got:     # unbacked sizes: the oracle has no value to compare with
            continue
        if got != tuple(want):
            raise InternalTracerError(f"shape rule of {op} gives {tuple(new)} = {got} at the hints, "
                                      f"the meta kernel gives {tuple(want)}")


def specialize(op: Any, args: tuple, kwargs: dict, shape_env, why: str) -> None:
    """Guard every symbolic input size/scalar of the call to its hint (outputs stay static)."""
    specialized: dict[Any, str] = {}

    def pin(value: SymValue) -> None:
        if value.expr not in specialized:
            specialized[value.expr] = f"{value.expr}={shape_env.specialize(value)}"

    def visit(value: Any) -> None:
        t = type(value)
        if t is TensorProxy:
            for size in value.meta.shape:
                if isinstance(size, SymValue):
                    pin(size)
        elif isinstance(value, SymValue):
            pin(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    visit(args)
    visit(kwargs)
    if specialized:
        log.warning("specializing %s for %s: %s", ", ".join(specialized.values()), op, why)
