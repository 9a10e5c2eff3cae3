"""The call policy (DESIGN.md "Calls"), in order:

(a) torch callables known to `ops` become graph nodes; (b) Python functions are inlined;
(c) natives with a SPECIAL handler (polyfills, interpreter-aware builtins) run the handler;
(d) other allowlisted natives run for real under the native guard (guard.py), which stops
them from running Python code themselves; (e) anything else is refused with a
GraphBreakError that says why (outside world, unknown native) and how to fix it.
"""
from __future__ import annotations

import collections
import functools
import inspect
import types
from typing import Any

import torch

from ... import ops
from ...errors import Category
from ...proxy import TensorProxy
from ...trace.source_fns import torch_python_functions
from ..diagnostics.diagnose import library_entry
from ..tensors import numpy_calls
from .escape_hatches import call_assumed_constant, is_assumed_constant
from .natives import (NATIVE_CONSTRUCTORS, PURE_NATIVE_MODULES, mutated_container, native_is_pure, outside_world_reason)
from ..registry import CALL_SPECIAL, SPECIAL
from ..objects.user_constructs import (compiler_disabled, is_parameter_class, refuse_compiler_disabled, refuse_new_parameter)
from ..objects.protocols import _MISSING, display_name, is_trusted, lookup_special, qualified_name

_FunctionType = types.FunctionType
# Containers whose methods store and return references without reading them.
_REFERENCE_CONTAINERS = (list, dict, tuple, set, frozenset, collections.deque,
                         collections.OrderedDict, collections.defaultdict)
_MethodType = types.MethodType
_BuiltinMethodType = types.BuiltinMethodType
_ModuleType = types.ModuleType
_NATIVE_CALLABLE_TYPES = (
    types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
    types.MethodWrapperType, types.ClassMethodDescriptorType,
)


def _special_handler(fn: Any, t: type) -> tuple[Any, Any]:
    """(handler, bound self or _MISSING) for a native with a SPECIAL handler, else (None, _)."""
    try:
        handler = SPECIAL.get(fn)
    except TypeError:  # unhashable callable object
        return None, _MISSING
    if handler is not None:
        return handler, _MISSING
    if t is _BuiltinMethodType or t is types.MethodWrapperType:
        owner = fn.__self__
        if owner is None or type(owner) is _ModuleType:
            return None, _MISSING
        unbound = lookup_special(owner if issubclass(type(owner), type) and t is _BuiltinMethodType
                                 else type(owner), fn.__name__)
        if unbound is not _MISSING:
            try:
                handler = SPECIAL.get(unbound)
            except TypeError:
                handler = None
            if handler is not None:
                return handler, owner
    return None, _MISSING


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
        t = type(fn)
        if t is _FunctionType:
            handler = SPECIAL.get(fn)
            if handler is not None:     # Python functions the tracer implements itself
                return handler(self, args, kwargs)
            if fn.__dict__:
                if compiler_disabled(fn):
                    raise refuse_compiler_disabled(self, fn, args, kwargs)
                if is_assumed_constant(fn):
                    return call_assumed_constant(self, fn, args, kwargs)
            if self.state.source_fns.current is None and fn in torch_python_functions():
                with self.state.source_fns.call(fn):      # F.relu & co: source_fns.py
                    return self.inline(fn, args, kwargs)
            return self.inline(fn, args, kwargs)
        if t is _MethodType:
            func = fn.__func__
            owner = fn.__self__
            if type(func) is _FunctionType:
                if is_trusted(owner):
                    return fn(*args, **kwargs)
                handler = SPECIAL.get(func)
                if handler is not None:
                    return handler(self, (owner, *args), kwargs)
                if func.__dict__:
                    if compiler_disabled(func):
                        raise refuse_compiler_disabled(self, func, (owner, *args), kwargs)
                    if is_assumed_constant(func):
                        return call_assumed_constant(self, func, (owner, *args), kwargs)
                return self.inline(func, (owner, *args), kwargs)
            return self.call(func, (owner, *args), kwargs)
        handler, owner = _special_handler(fn, t)
        if handler is not None:
            if owner is not _MISSING:
                args = (owner, *args)
            elif t is _BuiltinMethodType:
                _check_arity(fn, args, kwargs)
            return handler(self, args, kwargs)
        return self._call_object(fn, t, args, kwargs)

    def _call_object(self, fn: Any, t: type, args: tuple, kwargs: dict) -> Any:
        """call() of what is neither a Python function, a method, nor a native with a handler:
        tensor ops, modules, classes, partials, callable instances, other natives."""
        if t is _BuiltinMethodType and isinstance(getattr(fn, "__self__", None), torch.Tensor):
            # A method of a real tensor (a constant): lift the tensor and call the op on it.
            return self.tensor_op(getattr(torch.Tensor, fn.__name__),
                                  (self.lift_tensor(fn.__self__), *args), kwargs)
        if ops.is_tensor_op(fn):
            return self.tensor_op(fn, args, kwargs)
        if issubclass(type(fn), torch.nn.Module):
            return self.call_module(fn, args, kwargs)
        if issubclass(type(fn), type):
            return self.construct(fn, args, kwargs)
        if t is functools.partial:
            return self.call(fn.func, (*fn.args, *args), {**fn.keywords, **kwargs})
        type_handler = CALL_SPECIAL.get(t)
        if type_handler is not None:
            return type_handler(self, fn, args, kwargs)
        if is_trusted(fn) and lookup_special(t, "__call__") is not _MISSING:
            return fn(*args, **kwargs)
        if issubclass(type(fn), _NATIVE_CALLABLE_TYPES):
            return self.call_native(fn, args, kwargs)
        call = lookup_special(t, "__call__")
        if call is _MISSING:
            raise TypeError(f"'{display_name(t)}' object is not callable")
        return self.call_unbound(call, fn, args, kwargs)

    # ------------------------------------------------------------------ natives
    def call_native(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        """Run an allowlisted native for real (under the guard); refuse the others."""
        if not native_is_pure(fn):
            if numpy_calls.owns(fn):
                return numpy_calls.call_numpy(self, fn, args, kwargs)
            raise self._refuse_native(fn, (*args, *kwargs.values()))
        if any(type(a) is TensorProxy for a in args) or any(type(v) is TensorProxy for v in kwargs.values()):
            self._check_native_proxy_args(fn, args, kwargs)
        target = mutated_container(fn, args)
        if target is not None:
            self.before_mutation(target)
        return self.run_native(fn, *args, **kwargs)

    def _refuse_native(self, fn: Any, operands: tuple):
        name = qualified_name(fn)
        known = outside_world_reason(fn)
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

    def _check_native_proxy_args(self, fn: Any, args: tuple, kwargs: dict) -> None:
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
            obj = self.make_super(args) if cls is super else self.run_native(cls, *args, **kwargs)
            self.mark_fresh(obj)
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
        self.mark_fresh(obj)
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


