"""The code for each answer of the call policy (classify.py decides, DESIGN.md "Calls").

`call()` asks `classify(fn)` how to call `fn` and runs the answer: inline the bytecode, run a
handler, record a tensor op, call a module, construct, run an allowlisted native for real
under the native guard (guard.py, which stops it from running Python code itself), or refuse
with a GraphBreakError that says why (outside world, unknown native) and how to fix it.
"""
from __future__ import annotations

import collections
import inspect
import types
from typing import Any

import torch

from ...errors import Category
from ...proxy import TensorProxy
from ..diagnostics.diagnose import library_entry
from ..tensors import numpy_calls
from .classify import INLINE, INLINE_METHOD, NATIVE_READ, Decision, How, classify
from .escape_hatches import call_assumed_constant
from .guard import plain_read
from .natives import (NATIVE_CONSTRUCTORS, PURE_NATIVE_MODULES, mutated_container,
                      native_is_pure)
from ..objects.user_constructs import is_parameter_class, refuse_compiler_disabled, refuse_new_parameter
from ..objects.protocols import _MISSING, display_name, lookup_special, qualified_name

_FunctionType = types.FunctionType
_MethodType = types.MethodType
_SPECIAL = How.SPECIAL
# Containers whose methods store and return references without reading them.
_REFERENCE_CONTAINERS = (list, dict, tuple, set, frozenset, collections.deque,
                         collections.OrderedDict, collections.defaultdict)


_SIGNATURES: dict[Any, inspect.Signature | None] = {}


def _check_arity(fn: Any, args: tuple, kwargs: dict) -> None:
    """A builtin with a SPECIAL handler called with arguments its signature cannot bind raises
    CPython's own TypeError (argument parsing fails before the builtin does anything)."""
    try:
        signature = _SIGNATURES[fn]
    except KeyError:
        try:
            signature = inspect.signature(fn)
        except (ValueError, TypeError):     # no __text_signature__ (min, getattr, iter, ...)
            signature = None
        _SIGNATURES[fn] = signature
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        fn(*args, **kwargs)     # raises the builtin's message


class CallsMixin:
    """call() and its helpers for Interpreter."""

    def call(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        decision = classify(fn)
        if decision is INLINE:
            return self.inline(fn, args, kwargs)
        if decision is INLINE_METHOD:
            return self.inline(fn.__func__, (fn.__self__, *args), kwargs)
        if decision is NATIVE_READ and plain_read(fn.__self__, args, kwargs):
            return fn(*args, **kwargs)      # a read of plain values: nothing to guard
        how = decision.how
        if how is _SPECIAL:
            return decision.handler(self, args, kwargs)
        return _RUN[how](self, decision, fn, args, kwargs)

    def refuse_native(self, fn: Any, known: tuple[str, str, str] | None, operands: tuple):
        """The refusal of a native not known to be pure; `known` is classify's reason."""
        name = qualified_name(fn)
        entry = library_entry(self.frames)
        if known is not None:
            category, why, fix = known
            what = f"{entry}() calls {name}" if entry is not None else f"call to {name}"
            return self.refuse(category, f"{what}: {why}", hint=fix, operands=operands)
        if entry is not None:       # deep inside a library: name the call the user wrote
            return self.refuse(
                Category.UNSUPPORTED_NATIVE,
                f"{entry}() calls the native function {name}, which strict_tracer does not know "
                "to be pure", hint=f"call {entry}() outside forward() and pass its result in",
                operands=operands)
        return self.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"call to native function {name}, which strict_tracer does not know to be pure",
            hint=f"avoid calling {name} inside forward(), compute its result outside and pass "
                 "it in, or (if it is pure) report it so it can be allowlisted", operands=operands)

    def check_native_proxy_args(self, fn: Any, args: tuple, kwargs: dict) -> None:
        """Natives that only move references around may see proxies; C APIs may not."""
        owner = getattr(fn, "__self__", None)
        module = getattr(fn, "__module__", None)
        if module == "builtins" or issubclass(type(owner), _REFERENCE_CONTAINERS):
            return
        objclass = getattr(fn, "__objclass__", None)
        if objclass in (list, dict, tuple, set, object) or (
                isinstance(objclass, type) and issubclass(objclass, _REFERENCE_CONTAINERS)):
            return
        if getattr(fn, "__name__", None) in ("__new__", "__init__", "fromkeys") \
                and isinstance(owner, type) \
                and issubclass(owner, _REFERENCE_CONTAINERS + (BaseException,)):
            return      # constructing a container (or exception) only stores the references
        if module in ("_operator", "operator", "itertools", "functools", "_functools"):
            return
        raise self.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"native function {qualified_name(fn)} received a tensor; it would read data the "
            "tracer does not have",
            hint="use torch operations on the tensor instead", operands=(*args, *kwargs.values()))

    # ------------------------------------------------------------------ classes
    def construct(self, cls: type, args: tuple, kwargs: dict) -> Any:
        """`cls(*args, **kwargs)`: type.__call__ with Python __new__/__init__ interpreted."""
        meta = type(cls)
        if meta is not type:
            if is_parameter_class(cls):
                raise refuse_new_parameter(self, cls, args, kwargs)
            meta_call = lookup_special(meta, "__call__")
            if type(meta_call) is _FunctionType:
                return self.inline(meta_call, (cls, *args), kwargs)
        return self.type_call(cls, args, kwargs)

    def type_call(self, cls: type, args: tuple, kwargs: dict) -> Any:
        """type.__call__: __new__, then __init__ if __new__ returned an instance."""
        if numpy_calls.owns_class(cls):
            return numpy_calls.call_numpy(self, cls, args, kwargs)
        if cls in NATIVE_CONSTRUCTORS or (cls.__module__ in PURE_NATIVE_MODULES and _is_c_class(cls)):
            obj = self.make_super(args) if cls is super else self.guard.run_native(cls, *args, **kwargs)
            self.state.sandbox.mark_fresh(obj)
            return obj
        new = lookup_special(cls, "__new__")
        init = lookup_special(cls, "__init__")
        if new is object.__new__:
            if (args or kwargs) and init is object.__init__:
                raise TypeError(f"{cls.__name__}() takes no arguments")
            obj = object.__new__(cls)
        elif type(new) is staticmethod and type(new.__func__) is _FunctionType:
            obj = self.inline(new.__func__, (cls, *args), kwargs)
        elif type(new) is types.BuiltinFunctionType or type(new) is staticmethod:
            target = new.__func__ if type(new) is staticmethod else new
            if not native_is_pure(target):
                raise self.refuse(Category.UNSUPPORTED_NATIVE,
                                  f"constructing {cls.__qualname__} runs native code strict_tracer "
                                  "does not know", hint="construct it outside forward() and pass it in",
                                  operands=args)
            obj = self.call(target, (cls, *args), kwargs)
        else:
            obj = self.call(new, (cls, *args), kwargs)
        self.state.sandbox.mark_fresh(obj)
        if issubclass(type(obj), cls):
            init = lookup_special(type(obj), "__init__")
            if type(init) is _FunctionType:
                result = self.inline(init, (obj, *args), kwargs)
                if result is not None:
                    raise TypeError(f"__init__() should return None, not '{display_name(type(result))}'")
            elif init is not object.__init__ and init is not _MISSING:
                self.call(init, (obj, *args), kwargs)
        return obj


def _is_c_class(cls: type) -> bool:
    """Neither __new__ nor __init__ is Python code (C types, also heap-allocated ones)."""
    new, init = lookup_special(cls, "__new__"), lookup_special(cls, "__init__")
    return type(new) is not staticmethod and type(init) is not _FunctionType


# ---------------------------------------------------------------------- the answers
def _unbound(fn: Any, args: tuple) -> tuple[Any, tuple]:
    """(function, arguments) of a call, a bound method's __self__ moved into the arguments."""
    if type(fn) is _MethodType:
        return fn.__func__, (fn.__self__, *args)
    return fn, args


def _inline(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.inline(fn, args, kwargs)


def _inline_method(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.inline(fn.__func__, (fn.__self__, *args), kwargs)


def _inline_source_fn(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    source_fns = interp.state.source_fns
    if source_fns.current is None:
        with source_fns.call(fn):      # F.relu & co: source_fns.py
            return interp.inline(fn, args, kwargs)
    return interp.inline(fn, args, kwargs)


def _special(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return decision.handler(interp, args, kwargs)


def _special_checked(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    _check_arity(fn, args, kwargs)
    return decision.handler(interp, args, kwargs)


def _special_bound(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return decision.handler(interp, (fn.__self__, *args), kwargs)


def _run_trusted(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return fn(*args, **kwargs)


def _assumed_constant(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    func, args = _unbound(fn, args)
    return call_assumed_constant(interp, func, args, kwargs)


def _refuse_compiler_disabled(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict):
    func, args = _unbound(fn, args)
    raise refuse_compiler_disabled(interp, func, args, kwargs)


def _unwrap_method(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.call(fn.__func__, (fn.__self__, *args), kwargs)


def _tensor_constant_method(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    # A method of a real tensor (a constant): lift the tensor and call the op on it.
    return interp.tensors.op(getattr(torch.Tensor, fn.__name__),
                            (interp.tensors.lift(fn.__self__), *args), kwargs)


def _tensor_op(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.tensors.op(fn, args, kwargs)


def _module(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.modules.call(fn, args, kwargs)


def _construct(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.construct(fn, args, kwargs)


def _unwrap_partial(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.call(fn.func, (*fn.args, *args), {**fn.keywords, **kwargs})


def _type_handler(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return decision.handler(interp, fn, args, kwargs)


def _native(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    if TensorProxy in map(type, args) or (kwargs and TensorProxy in map(type, kwargs.values())):
        interp.check_native_proxy_args(fn, args, kwargs)
    target = mutated_container(fn, args)
    if target is not None:
        interp.state.sandbox.before_mutation(target)
    return interp.guard.run_native(fn, *args, **kwargs)



def _numpy(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return numpy_calls.call_numpy(interp, fn, args, kwargs)


def _call_dunder(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict) -> Any:
    return interp.call_unbound(decision.handler, fn, args, kwargs)


def _refuse_native(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict):
    raise interp.refuse_native(fn, decision.reason, (*args, *kwargs.values()))


def _not_callable(interp, decision: Decision, fn: Any, args: tuple, kwargs: dict):
    raise TypeError(decision.reason)


_RUN = {
    How.SPECIAL: _special, How.SPECIAL_CHECKED: _special_checked,
    How.SPECIAL_BOUND: _special_bound, How.INLINE: _inline, How.INLINE_SOURCE_FN: _inline_source_fn,
    How.INLINE_METHOD: _inline_method, How.RUN_TRUSTED: _run_trusted,
    How.ASSUMED_CONSTANT: _assumed_constant, How.UNWRAP_METHOD: _unwrap_method,
    How.TENSOR_CONSTANT_METHOD: _tensor_constant_method, How.TENSOR_OP: _tensor_op,
    How.MODULE: _module, How.CONSTRUCT: _construct, How.UNWRAP_PARTIAL: _unwrap_partial,
    How.TYPE_HANDLER: _type_handler, How.NATIVE: _native, How.NATIVE_READ: _native,
    How.NUMPY: _numpy,
    How.CALL_DUNDER: _call_dunder, How.REFUSE_COMPILER_DISABLED: _refuse_compiler_disabled,
    How.REFUSE_NATIVE: _refuse_native, How.NOT_CALLABLE: _not_callable,
}
