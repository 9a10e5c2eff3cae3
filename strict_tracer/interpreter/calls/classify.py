"""The call policy as one pure function: `classify(fn)` says how a callee is called, or why
it is not (DESIGN.md "Calls"). policy.py holds the code for each answer.

The decision depends only on the callee and the policy's own tables (the SPECIAL and
CALL_SPECIAL registries, the native allowlists of natives.py, the ATen knowledge of `ops`),
never on the interpreter's state: the state-dependent parts of an answer (recording a torch
function's source_fn only when no other is being recorded, naming the library call a refused
native sits in) are done by the code that runs the answer. The order of the checks is the
policy: the first that matches decides.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import types
from typing import Any

import torch

from ... import ops
from ...trace.source_fns import torch_python_functions
from ..objects.protocols import _MISSING, display_name, is_trusted, lookup_special
from ..objects.user_constructs import compiler_disabled
from ..registry import CALL_SPECIAL, SPECIAL
from ..tensors import numpy_calls
from .escape_hatches import is_assumed_constant
from .natives import MUTATING_METHODS, native_is_pure, outside_world_reason

_FunctionType = types.FunctionType
_MethodType = types.MethodType
_BuiltinMethodType = types.BuiltinMethodType
_ModuleType = types.ModuleType
NATIVE_CALLABLE_TYPES = (
    types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
    types.MethodWrapperType, types.ClassMethodDescriptorType,
)


class How(enum.Enum):
    """How a callee is called (the REFUSE_* and NOT_CALLABLE answers: why it is not)."""
    SPECIAL = "a handler of the tracer's own (polyfill, interpreter-aware builtin)"
    SPECIAL_CHECKED = "a builtin's handler, after CPython's own argument check"
    SPECIAL_BOUND = "a handler of the unbound method, with the callee's __self__ first"
    INLINE = "interpret the Python function's bytecode"
    INLINE_SOURCE_FN = "interpret a torch Python function (F.relu, ...), recording its source_fn"
    INLINE_METHOD = "interpret the bound method's function with its __self__ first"
    RUN_TRUSTED = "call natively: a method or callable of strict_tracer's own classes"
    ASSUMED_CONSTANT = "run natively on example values (@assume_constant_result)"
    UNWRAP_METHOD = "call the bound method's (non-Python) function with its __self__ first"
    TENSOR_CONSTANT_METHOD = "lift the constant tensor and call the Tensor method on it"
    TENSOR_OP = "record an ATen op in the graph"
    MODULE = "call an nn.Module (hooks, forward inlined)"
    CONSTRUCT = "construct an instance (type.__call__, __new__/__init__ interpreted)"
    UNWRAP_PARTIAL = "call the partial's function with its stored arguments"
    TYPE_HANDLER = "a handler for every callable of this type (CALL_SPECIAL)"
    NATIVE = "run the pure native for real, under the native guard"
    NATIVE_READ = ("a read-only builtin method of a plain value (`table.get`): called directly "
                   "when the value and the arguments are plain (no Python code can run), "
                   "else as NATIVE")
    NUMPY = "a NumPy native, run on the tensor's view (numpy_calls)"
    CALL_DUNDER = "call the type's __call__ with the callee first"
    REFUSE_COMPILER_DISABLED = "refused: the function was marked torch.compiler.disable"
    REFUSE_NATIVE = "refused: a native not known to be pure (or known to touch the world)"
    NOT_CALLABLE = "TypeError: the object is not callable"

    # Members are singletons compared by identity: hash them so too (Enum's own __hash__ is
    # Python code, and call() looks answers up on every call).
    __hash__ = object.__hash__


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """`how`, plus the handler (SPECIAL*, TYPE_HANDLER, CALL_DUNDER) or the refusal's reason
    (REFUSE_NATIVE: (category, why, fix) for a native known to touch the outside world,
    None for one merely unknown; NOT_CALLABLE: CPython's message)."""
    how: How
    handler: Any = None
    reason: Any = None


# Answers without a payload, and one per registered handler (a finite set): classify
# allocates nothing on hot paths.
_PLAIN = {how: Decision(how) for how in How}
INLINE = _PLAIN[How.INLINE]
INLINE_METHOD = _PLAIN[How.INLINE_METHOD]
_INLINE_SOURCE_FN = _PLAIN[How.INLINE_SOURCE_FN]
_RUN_TRUSTED = _PLAIN[How.RUN_TRUSTED]
_UNWRAP_METHOD = _PLAIN[How.UNWRAP_METHOD]
_REFUSE_COMPILER_DISABLED = _PLAIN[How.REFUSE_COMPILER_DISABLED]
_ASSUMED_CONSTANT = _PLAIN[How.ASSUMED_CONSTANT]
_TENSOR_CONSTANT_METHOD = _PLAIN[How.TENSOR_CONSTANT_METHOD]
_TENSOR_OP = _PLAIN[How.TENSOR_OP]
_MODULE = _PLAIN[How.MODULE]
_CONSTRUCT = _PLAIN[How.CONSTRUCT]
_UNWRAP_PARTIAL = _PLAIN[How.UNWRAP_PARTIAL]
_NATIVE = _PLAIN[How.NATIVE]
NATIVE_READ = _PLAIN[How.NATIVE_READ]
_NUMPY = _PLAIN[How.NUMPY]
# One decision per (answer, handler), made on first use.
_SPECIAL_DECISIONS: dict[Any, Decision] = {}
_CHECKED_DECISIONS: dict[Any, Decision] = {}
_BOUND_DECISIONS: dict[Any, Decision] = {}
_TYPE_HANDLER_DECISIONS: dict[Any, Decision] = {}


def _remember(cache: dict, how: How, handler: Any) -> Decision:
    decision = cache[handler] = Decision(how, handler)
    return decision


# The members classify names at run time (an Enum member read through its class is slow).
_CALL_DUNDER_HOW = How.CALL_DUNDER
_NOT_CALLABLE_HOW = How.NOT_CALLABLE
_REFUSE_NATIVE_HOW = How.REFUSE_NATIVE
_SPECIAL_HOW = How.SPECIAL
_SPECIAL_BOUND_HOW = How.SPECIAL_BOUND
_SPECIAL_CHECKED_HOW = How.SPECIAL_CHECKED
_TYPE_HANDLER_HOW = How.TYPE_HANDLER
_torch_python_functions: frozenset | None = None


def classify(fn: Any) -> Decision:
    """How to call `fn` (a pure function of the callee and the policy's tables)."""
    t = type(fn)
    if t is _FunctionType:
        handler = SPECIAL.get(fn)
        if handler is not None:     # Python functions the tracer implements itself
            return (_SPECIAL_DECISIONS.get(handler)
                    or _remember(_SPECIAL_DECISIONS, _SPECIAL_HOW, handler))
        if fn.__dict__:
            escape = _escape_hatch(fn)
            if escape is not None:
                return escape
        if fn in (_torch_python_functions or _torch_functions()):
            return _INLINE_SOURCE_FN
        return INLINE
    if t is _MethodType:
        func = fn.__func__
        if type(func) is not _FunctionType:
            return _UNWRAP_METHOD
        if is_trusted(fn.__self__):
            return _RUN_TRUSTED
        handler = SPECIAL.get(func)
        if handler is not None:
            return (_BOUND_DECISIONS.get(handler)
                    or _remember(_BOUND_DECISIONS, _SPECIAL_BOUND_HOW, handler))
        if func.__dict__:
            escape = _escape_hatch(func)
            if escape is not None:
                return escape
        return INLINE_METHOD
    if t is _BuiltinMethodType and type(fn.__self__) in _PLAIN_OWNER_TYPES:
        decision = PLAIN_METHOD_DECISIONS.get((type(fn.__self__), fn.__name__))
        if decision is None or SPECIAL.get(fn) is not None:
            decision = _plain_method_decision(fn)
        if decision is not None:
            return decision
    handler, bound = _special_handler(fn, t)
    if handler is None:
        return _classify_object(fn, t)
    if bound:
        return (_BOUND_DECISIONS.get(handler)
                or _remember(_BOUND_DECISIONS, _SPECIAL_BOUND_HOW, handler))
    if t is _BuiltinMethodType:
        return (_CHECKED_DECISIONS.get(handler)
                or _remember(_CHECKED_DECISIONS, _SPECIAL_CHECKED_HOW, handler))
    return _SPECIAL_DECISIONS.get(handler) or _remember(_SPECIAL_DECISIONS, _SPECIAL_HOW, handler)


# Builtin methods bound to values of these exact types (`table.get`, `items.append`): their
# answer depends only on the type and the method's name, so it is worked out once.
_PLAIN_OWNER_TYPES = frozenset({dict, list, tuple, set, frozenset, str, bytes, int, float, bool,
                                complex})
# classify() of a builtin method bound to a value of a _PLAIN_OWNER_TYPES type, by (type, name),
# unless SPECIAL has a handler for that very bound method. The CALL handler reads it to call a
# NATIVE_READ (`table.get(k)`) without classify().
PLAIN_METHOD_DECISIONS: dict[tuple[type, str], Decision] = {}


def _plain_method_decision(fn: Any) -> Decision | None:
    """classify() of a builtin method of a plain value, remembered per (type, name) when it
    is a handler of the unbound method or a pure native; None: decide it in full (a handler
    registered for this very bound method, or any other answer)."""
    if SPECIAL.get(fn) is not None:
        return None
    key = (type(fn.__self__), fn.__name__)
    decision = PLAIN_METHOD_DECISIONS.get(key)
    if decision is None:
        handler, bound = _special_handler(fn, _BuiltinMethodType)
        if handler is not None and bound:
            decision = (_BOUND_DECISIONS.get(handler)
                        or _remember(_BOUND_DECISIONS, _SPECIAL_BOUND_HOW, handler))
        else:
            decision = _classify_object(fn, _BuiltinMethodType)
        if decision.how not in (How.SPECIAL_BOUND, How.NATIVE):
            return None
        if decision is _NATIVE and key[1] not in MUTATING_METHODS:
            decision = NATIVE_READ
        PLAIN_METHOD_DECISIONS[key] = decision
    return decision


def _torch_functions() -> frozenset:
    """torch's Python functions that take part in __torch_function__ (F.relu, ...)."""
    global _torch_python_functions
    _torch_python_functions = torch_python_functions()
    return _torch_python_functions


def _escape_hatch(func: types.FunctionType) -> Decision | None:
    """torch.compiler.disable and @assume_constant_result (marks in the function's __dict__)."""
    if compiler_disabled(func):
        return _REFUSE_COMPILER_DISABLED
    if is_assumed_constant(func):
        return _ASSUMED_CONSTANT
    return None


def _special_handler(fn: Any, t: type) -> tuple[Any, bool]:
    """(handler, whether it takes fn.__self__ first) for a native with a SPECIAL handler,
    registered on itself or on the unbound method it is bound from; else (None, False)."""
    try:
        handler = SPECIAL.get(fn)
    except TypeError:  # unhashable callable object
        return None, False
    if handler is not None:
        return handler, False
    if t is _BuiltinMethodType or t is types.MethodWrapperType:
        owner = fn.__self__
        if owner is None or type(owner) is _ModuleType:
            return None, False
        unbound = lookup_special(owner if issubclass(type(owner), type) and t is _BuiltinMethodType
                                 else type(owner), fn.__name__)
        if unbound is not _MISSING:
            try:
                handler = SPECIAL.get(unbound)
            except TypeError:
                handler = None
            if handler is not None:
                return handler, True
    return None, False


def _classify_object(fn: Any, t: type) -> Decision:
    """Neither a Python function, a method, nor a native with a handler: tensor ops, modules,
    classes, partials, callable instances, other natives."""
    if t is _BuiltinMethodType and isinstance(getattr(fn, "__self__", None), torch.Tensor):
        return _TENSOR_CONSTANT_METHOD
    if ops.is_tensor_op(fn):
        return _TENSOR_OP
    if issubclass(t, torch.nn.Module):
        return _MODULE
    if issubclass(t, type):
        return _CONSTRUCT
    if t is functools.partial:
        return _UNWRAP_PARTIAL
    type_handler = CALL_SPECIAL.get(t)
    if type_handler is not None:
        return _TYPE_HANDLER_DECISIONS.get(type_handler) or \
            _remember(_TYPE_HANDLER_DECISIONS, _TYPE_HANDLER_HOW, type_handler)
    if is_trusted(fn) and lookup_special(t, "__call__") is not _MISSING:
        return _RUN_TRUSTED
    if issubclass(t, NATIVE_CALLABLE_TYPES):
        return classify_native(fn)
    call = lookup_special(t, "__call__")
    if call is _MISSING:
        return Decision(_NOT_CALLABLE_HOW, reason=f"'{display_name(t)}' object is not callable")
    return Decision(_CALL_DUNDER_HOW, call)    # not cached: user classes' __call__ would live on


def classify_native(fn: Any) -> Decision:
    """A native callable without a handler: run it, hand it to numpy_calls, or refuse it."""
    if native_is_pure(fn):
        return _NATIVE
    if numpy_calls.owns(fn):
        return _NUMPY
    return Decision(_REFUSE_NATIVE_HOW, reason=outside_world_reason(fn))
