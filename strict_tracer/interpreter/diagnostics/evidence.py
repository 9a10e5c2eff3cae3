"""explain(): is an exception the program's own, or a consequence of tracing?

An exception raised while tracing is ours, not the program's, when there is evidence for it:
- taint: an operand of the failing instruction came from a step explain() recovered (an
  opaque stand-in, or a tensor computed from a stand-in node), however deeply it is nested
  in tuples, lists, dicts, sets or slices (`x[:, :k]` with `k` a stand-in);
- re-check: the failing instruction, run again natively on the operands' concrete example
  values (sizes at their hints, tensors as meta tensors of their hint shapes), succeeds: the
  failure comes from a value being symbolic or a proxy (e.g. `divmod(n, 3)` of a symbolic
  size). Only instructions whose native re-run cannot execute the user's Python code are
  re-checked: operators, subscripts, attribute reads and calls of builtins, on operands of
  builtin types.
Without evidence the exception is the program's own (eager would raise it too).
"""
from __future__ import annotations

import operator
import types
from typing import Any, Callable

import torch

from ...proxy import TensorProxy
from ...symbolic import SymBool, SymFloat, SymInt
from .diagnose import instruction_info
from ..frame import NULL

_MAX_DEPTH = 6


class StandInValue:
    """Marker base class of explain()'s opaque stand-ins (recovery.StandIn)."""

    __slots__ = ()


def tainted(value: Any, standin_nodes: set, depth: int = 0) -> bool:
    """`value` is, holds, or was computed from a stand-in explain() pushed."""
    if isinstance(value, StandInValue):
        return True
    t = type(value)
    if t is TensorProxy:
        return bool(standin_nodes) and _node_tainted(value.node, standin_nodes)
    if depth >= _MAX_DEPTH:
        return False
    if t in (tuple, list, set, frozenset):
        return any(tainted(v, standin_nodes, depth + 1) for v in value)
    if t is dict:
        return any(tainted(v, standin_nodes, depth + 1) for v in value.values())
    if t is slice:
        return any(tainted(v, standin_nodes, depth + 1)
                   for v in (value.start, value.stop, value.step))
    return False


def holds_opaque(values: Any) -> bool:
    """An opaque stand-in is among `values` (nested containers and slices included)."""
    return tainted(values, set())


def _node_tainted(node: torch.fx.Node, standin_nodes: set) -> bool:
    seen = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if current in standin_nodes:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(current.all_input_nodes)
    return False


def traced_kind(values: Any, depth: int = 0) -> str | None:
    """What the first traced value among `values` is, in the user's terms."""
    t = type(values)
    if t is TensorProxy:
        return "a traced tensor"
    if t is SymInt:
        return "a dynamic size"
    if t is SymFloat:
        return "a float computed from dynamic sizes"
    if t is SymBool:
        return "a condition on dynamic sizes"
    if depth < _MAX_DEPTH and t in (tuple, list, set, frozenset, slice, dict):
        items = (values.start, values.stop, values.step) if t is slice else (
            values.values() if t is dict else values)
        for item in items:
            kind = traced_kind(item, depth + 1)
            if kind is not None:
                return kind
    return None


# ---------------------------------------------------------------------- re-check
class _NoConcrete(Exception):
    """A value has no concrete stand-in safe to hand to native code."""


_PLAIN = (int, float, complex, bool, str, bytes, type(None), type(Ellipsis), range,
          torch.dtype, torch.device, torch.layout, torch.memory_format)


def concrete(value: Any, depth: int = 0) -> Any:
    """`value` at the example inputs; raises _NoConcrete for values native code could run
    Python code of (user objects) or that have no example value (unbacked sizes, stand-ins)."""
    t = type(value)
    if t in _PLAIN:
        return value
    if t in (SymInt, SymFloat, SymBool):
        if value.hint is None:
            raise _NoConcrete
        return value.hint
    if t is TensorProxy:
        meta = value.meta
        return torch.empty_strided(meta.hint_shape, meta.strides, dtype=meta.dtype,
                                   device="meta")
    if depth < _MAX_DEPTH:
        if t in (tuple, list, set, frozenset):
            return t(concrete(v, depth + 1) for v in value)
        if t is torch.Size:
            return torch.Size(concrete(v, depth + 1) for v in value)
        if t is dict:
            return {concrete(k, depth + 1): concrete(v, depth + 1) for k, v in value.items()}
        if t is slice:
            return slice(*(concrete(v, depth + 1) for v in (value.start, value.stop, value.step)))
    raise _NoConcrete


_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod",
           "**": "pow", "@": "matmul", "<<": "lshift", ">>": "rshift", "&": "and_", "|": "or_",
           "^": "xor"}
_COMPARE = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
            ">": operator.gt, ">=": operator.ge}
_UNARY = {"UNARY_NEGATIVE": (operator.neg, "-"), "UNARY_POSITIVE": (operator.pos, "+"),
          "UNARY_INVERT": (operator.invert, "~")}
_NATIVE_CALLABLES = (types.BuiltinFunctionType, types.MethodDescriptorType,
                     types.WrapperDescriptorType, types.MethodWrapperType,
                     types.ClassMethodDescriptorType)
_PURE_MODULES = frozenset({"builtins", "math", "cmath", "_operator", "operator"})
_EFFECTFUL = frozenset({"print", "input", "open", "exec", "eval", "compile", "__import__",
                        "breakpoint", "setattr", "delattr", "globals", "locals", "vars", "exit",
                        "quit", "help"})
_BUILTIN_TYPES = (int, float, complex, bool, str, bytes, tuple, list, dict, set, frozenset,
                  range, slice)


def limitation(code: types.CodeType, instr: Any, inputs: list,
               kwnames: tuple | None) -> str | None:
    """When the instruction that raised succeeds re-run natively on its operands' example
    values, what it does in the user's terms ("`divmod()`", "the `<<` operator"); else None."""
    argrepr = instruction_info(code, instr).argrepr     # as `dis` shows it: "*", ">", "view"
    try:
        rerun = _rerun(instr.opname, argrepr, inputs, kwnames)
    except _NoConcrete:
        return None
    if rerun is None:
        return None
    run, what = rerun
    try:
        run()
    except Exception:
        return None
    return what


def _rerun(name: str, argrepr: str, inputs: list,
           kwnames: tuple | None) -> tuple[Callable[[], Any], str] | None:
    """(a thunk re-running an instruction on concrete operands, what the instruction does),
    or None when it cannot be re-run."""
    if name in ("BINARY_OP", "COMPARE_OP") and len(inputs) == 2:
        symbol = argrepr.removeprefix("bool(").removesuffix(")")
        fn = _COMPARE.get(symbol) if name == "COMPARE_OP" else _binary_operator(symbol)
        if fn is None:
            return None
        a, b = concrete(inputs[0]), concrete(inputs[1])
        return (lambda: fn(a, b)), f"the `{symbol}` operator"
    if name == "BINARY_SUBSCR" and len(inputs) == 2:
        a, b = concrete(inputs[0]), concrete(inputs[1])
        return (lambda: a[b]), "indexing"
    if name in _UNARY and len(inputs) == 1:
        a = concrete(inputs[0])
        return (lambda: _UNARY[name][0](a)), f"the unary `{_UNARY[name][1]}` operator"
    if name in ("LOAD_ATTR", "LOAD_METHOD") and inputs:
        a = concrete(inputs[-1])
        # "max", "NULL|self + max" (3.12), "max + NULL|self" (3.13)
        attr = [part for part in argrepr.split() if part not in ("+", "NULL", "NULL|self")][-1]
        return (lambda: getattr(a, attr)), f"the attribute `.{attr}`"
    if name == "CALL":
        return _rerun_call(inputs, kwnames)
    if name == "CALL_KW" and inputs:          # 3.13: the keyword names are the last operand
        return _rerun_call(inputs[:-1], inputs[-1])
    return None


def _binary_operator(symbol: str) -> Callable[[Any, Any], Any] | None:
    """`+` -> operator.add, `+=` -> operator.iadd (a list += tuple works only in place)."""
    name = _BINARY.get(symbol.removesuffix("="))
    if name is None:
        return None
    return getattr(operator, ("i" + name.rstrip("_")) if symbol.endswith("=") else name)


def _rerun_call(inputs: list, kwnames: tuple | None) -> tuple[Callable[[], Any], str] | None:
    """CALL's operands as op_call reads them: [NULL, fn, *args] (3.13: [fn, NULL, *args]) or
    [fn, self, *args]."""
    if len(inputs) < 2:
        return None
    first, second, rest = inputs[0], inputs[1], list(inputs[2:])
    if first is NULL:
        fn, args = second, rest
    elif second is NULL:
        fn, args = first, rest
    else:
        fn, args = first, [second] + rest
    args = [concrete(v) for v in args]
    if not _is_native_callable(fn, args):
        return None
    kwargs = {}
    if kwnames:
        kwargs = dict(zip(kwnames, args[-len(kwnames):]))
        del args[-len(kwnames):]
    name = getattr(fn, "__qualname__", getattr(fn, "__name__", "the function"))
    return (lambda: fn(*args, **kwargs)), f"`{name}()`"


def _is_native_callable(fn: Any, args: list) -> bool:
    """Natives whose re-run on `args` has no effect outside them: pure builtins, methods of
    immutable builtin values, torch functions with a (meta) tensor argument."""
    if any(fn is t for t in _BUILTIN_TYPES):
        return True
    if not isinstance(fn, _NATIVE_CALLABLES) or getattr(fn, "__name__", "") in _EFFECTFUL:
        return False
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, types.ModuleType):
        return owner.__name__ in _PURE_MODULES
    if owner is not None:
        return type(owner) in _PLAIN
    objclass = getattr(fn, "__objclass__", None)
    if any(objclass is t for t in _PLAIN + _BUILTIN_TYPES):
        return True
    return any(isinstance(a, torch.Tensor) for a in args)
