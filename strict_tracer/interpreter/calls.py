"""The call policy (DESIGN.md "Calls"), in order:

(a) torch callables known to `ops` become graph nodes; (b) Python functions are inlined;
(c) allowlisted natives run for real, with Python callables they receive wrapped so that the
callbacks are interpreted too; (d) anything else is refused with a GraphBreakError.
"""
from __future__ import annotations

import collections
import functools
import types
from typing import Any

import torch

from .. import ops
from ..errors import Category
from ..proxy import TensorProxy
from .natives import (NATIVE_CONSTRUCTORS, PURE_NATIVE_MODULES, SPECIAL, STORES_CALLABLES,
                      mutated_container, native_is_pure)
from .protocols import _MISSING, lookup_special

_HEAPTYPE = 1 << 9          # Py_TPFLAGS_HEAPTYPE: classes defined in Python
_FunctionType = types.FunctionType
_MethodType = types.MethodType
_NATIVE_CALLABLE_TYPES = (
    types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
    types.MethodWrapperType, types.ClassMethodDescriptorType,
)


class InterpretedCallable:
    """Wraps a Python callable handed to native code, so native callbacks are interpreted."""

    _strict_tracer_native = True
    __slots__ = ("interp", "fn")

    def __init__(self, interp, fn: Any) -> None:
        self.interp = interp
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.interp.call(self.fn, args, kwargs)

    def __repr__(self) -> str:
        return f"<interpreted {self.fn!r}>"


def is_python_callable(value: Any) -> bool:
    t = type(value)
    if t is _FunctionType:
        return True
    if t is _MethodType:
        return type(value.__func__) is _FunctionType
    if t is functools.partial:
        return is_python_callable(value.func)
    if t in (type, InterpretedCallable) or isinstance(value, type):
        return False
    if getattr(t, "_strict_tracer_native", False):
        return False
    call = lookup_special(t, "__call__")
    return type(call) is _FunctionType


class CallsMixin:
    """call() and its helpers for Interpreter."""

    def call(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        t = type(fn)
        if t is _FunctionType:
            handler = SPECIAL.get(fn)
            if handler is not None:     # Python functions the tracer implements itself
                return handler(self, args, kwargs)
            return self.inline(fn, args, kwargs)
        if t is _MethodType:
            func = fn.__func__
            if type(func) is _FunctionType:
                return self.inline(func, (fn.__self__, *args), kwargs)
            return self.call(func, (fn.__self__, *args), kwargs)
        try:
            handler = SPECIAL.get(fn)
        except TypeError:  # unhashable callable object
            handler = None
        if handler is not None:
            return handler(self, args, kwargs)
        if t is types.MethodWrapperType:
            # `obj.__setattr__` and friends: route through the unbound slot's policy.
            unbound = _unbound_slot(fn)
            if unbound is not None and unbound in SPECIAL:
                return SPECIAL[unbound](self, (fn.__self__, *args), kwargs)
        if t is types.BuiltinMethodType and isinstance(getattr(fn, "__self__", None), torch.Tensor):
            # A method of a real tensor (a constant): lift the tensor and call the op on it.
            return self.tensor_op(getattr(torch.Tensor, fn.__name__),
                                  (self.lift_tensor(fn.__self__), *args), kwargs)
        if ops.is_tensor_op(fn):
            return self.tensor_op(fn, args, kwargs)
        if isinstance(fn, torch.nn.Module):
            return self.call_module(fn, args, kwargs)
        if isinstance(fn, type):
            return self.construct(fn, args, kwargs)
        if t is functools.partial:
            return self.call(fn.func, (*fn.args, *args), {**fn.keywords, **kwargs})
        if t is InterpretedCallable or getattr(t, "_strict_tracer_native", False):
            return fn(*args, **kwargs)
        if isinstance(fn, _NATIVE_CALLABLE_TYPES):
            return self.call_native(fn, args, kwargs)
        call = lookup_special(t, "__call__")
        if call is _MISSING:
            raise TypeError(f"'{t.__name__}' object is not callable")
        return self.call_unbound(call, fn, args, kwargs)

    # ------------------------------------------------------------------ natives
    def call_native(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        if not native_is_pure(fn):
            name = _qualified_name(fn)
            raise self.refuse(
                Category.UNSUPPORTED_NATIVE,
                f"call to native function {name}, which strict_tracer does not know to be pure",
                hint=f"avoid calling {name} inside forward(), compute its result outside and pass "
                     "it in, or (if it is pure) report it so it can be allowlisted",
                operands=(*args, *kwargs.values()))
        if any(type(a) is TensorProxy for a in args) or any(type(v) is TensorProxy for v in kwargs.values()):
            self._check_native_proxy_args(fn, args, kwargs)
        target = mutated_container(fn, args)
        if target is not None:
            self.before_mutation(target)
        return fn(*self._wrap_callables(fn, args), **self._wrap_callable_kwargs(fn, kwargs))

    def _check_native_proxy_args(self, fn: Any, args: tuple, kwargs: dict) -> None:
        """Natives that only move references around may see proxies; C APIs may not."""
        owner = getattr(fn, "__self__", None)
        module = getattr(fn, "__module__", None)
        if module == "builtins" or isinstance(owner, (list, dict, tuple, set, collections.deque)):
            return
        if getattr(fn, "__objclass__", None) in (list, dict, tuple, set, object):
            return
        if module in ("_operator", "operator", "itertools", "functools", "_functools"):
            return
        raise self.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"native function {_qualified_name(fn)} received a tensor; it would read data the "
            "tracer does not have",
            hint="use torch operations on the tensor instead", operands=(*args, *kwargs.values()))

    def _wrap_callables(self, fn: Any, args: tuple) -> tuple:
        if fn in STORES_CALLABLES or not any(is_python_callable(a) for a in args):
            return args
        return tuple(InterpretedCallable(self, a) if is_python_callable(a) else a for a in args)

    def _wrap_callable_kwargs(self, fn: Any, kwargs: dict) -> dict:
        if not kwargs or fn in STORES_CALLABLES:
            return kwargs
        return {k: InterpretedCallable(self, v) if is_python_callable(v) else v for k, v in kwargs.items()}

    # ------------------------------------------------------------------ classes
    def construct(self, cls: type, args: tuple, kwargs: dict) -> Any:
        """`cls(*args, **kwargs)`: type.__call__ with Python __new__/__init__ interpreted."""
        meta = type(cls)
        if meta is not type:
            meta_call = lookup_special(meta, "__call__")
            if type(meta_call) is _FunctionType:
                return self.inline(meta_call, (cls, *args), kwargs)
        if cls in NATIVE_CONSTRUCTORS or (not cls.__flags__ & _HEAPTYPE
                                         and cls.__module__ in PURE_NATIVE_MODULES):
            obj = self.call_constructor_natively(cls, args, kwargs)
            self.mark_fresh(obj)
            return obj
        new = lookup_special(cls, "__new__")
        if new is object.__new__:
            init = lookup_special(cls, "__init__")
            if (args or kwargs) and init is object.__init__:
                raise TypeError(f"{cls.__name__}() takes no arguments")
            obj = object.__new__(cls)
        elif type(new) is staticmethod and type(new.__func__) is _FunctionType:
            obj = self.inline(new.__func__, (cls, *args), kwargs)
        elif type(new) is types.BuiltinFunctionType or type(new) is staticmethod:
            target = new.__func__ if type(new) is staticmethod else new
            if not native_is_pure(target) and not _is_exception_class(cls):
                raise self.refuse(Category.UNSUPPORTED_NATIVE,
                                  f"constructing {cls.__qualname__} runs native code strict_tracer "
                                  "does not know", hint="construct it outside forward() and pass it in",
                                  operands=args)
            obj = target(cls, *args, **kwargs)
        else:
            obj = self.call(new, (cls, *args), kwargs)
        if isinstance(obj, cls):
            init = lookup_special(type(obj), "__init__")
            if type(init) is _FunctionType:
                self.mark_fresh(obj)
                self.inline(init, (obj, *args), kwargs)
            elif init is not object.__init__ and init is not _MISSING:
                init(obj, *args, **kwargs)
        self.mark_fresh(obj)
        return obj

    def call_constructor_natively(self, cls: type, args: tuple, kwargs: dict) -> Any:
        if cls is super:
            return self.make_super(args)
        return cls(*self._wrap_callables(cls, args), **self._wrap_callable_kwargs(cls, kwargs))


def _unbound_slot(fn: Any) -> Any:
    for klass in type(fn.__self__).__mro__:
        slot = klass.__dict__.get(fn.__name__)
        if slot is not None:
            return slot
    return None


def _is_exception_class(cls: type) -> bool:
    return issubclass(cls, BaseException)


def _qualified_name(fn: Any) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    owner = getattr(fn, "__self__", None)
    if module is None and owner is not None and not isinstance(owner, types.ModuleType):
        return f"{type(owner).__name__}.{getattr(fn, '__name__', qualname)}"
    return f"{module}.{qualname}" if module and module != "builtins" else qualname
