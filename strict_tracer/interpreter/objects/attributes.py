"""The attribute protocol (`obj.name`, `obj.name = v`, `del obj.name`), emulated.

`object.__getattribute__` is replayed step by step so that Python-level descriptors
(properties, cached_property, custom descriptors), `__getattribute__` and `__getattr__`
overrides run in the interpreter, while C-level descriptors and instance dicts are read
natively. Modules and tensors have their own handlers (modules.py, tensors.py).
"""
from __future__ import annotations

import types
from typing import Any

import torch

from ...proxy import TensorProxy
from .protocols import (_MISSING, SAFE_TYPES, is_trusted, lookup_special, python_type, display_name)
from ...trace.sandbox import native_slot

_NATIVE_DESCRIPTORS = (
    types.MemberDescriptorType, types.GetSetDescriptorType, types.MethodDescriptorType,
    types.WrapperDescriptorType, types.ClassMethodDescriptorType, types.BuiltinFunctionType,
    staticmethod, classmethod,
)
_object_getattribute = object.__getattribute__
_object_getattribute_slot = object.__dict__["__getattribute__"]
_object_setattr = object.__setattr__
_generic_slots: dict[Any, bool] = {_object_getattribute_slot: True}


def _is_generic_getattribute(slot: Any) -> bool:
    """Whether a C `__getattribute__` slot wrapper is object's generic lookup: dict, list and
    other C types list the slot in their own __dict__ although tp_getattro is
    PyObject_GenericGetAttr (so a dict subclass's properties must still be interpreted)."""
    known = _generic_slots.get(slot)
    if known is None:
        owner = getattr(slot, "__objclass__", None)
        known = _generic_slots[slot] = (type(slot) is types.WrapperDescriptorType
                                        and isinstance(owner, type)
                                        and _getattro(owner) == _getattro(object))
    return known


def _getattro(cls: type) -> int | None:
    import ctypes
    get_slot = ctypes.pythonapi.PyType_GetSlot
    get_slot.restype, get_slot.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_int]
    return get_slot(cls, 58)        # Py_tp_getattro (typeslots.h)
_object_delattr = object.__delattr__


def _python_get(descr: Any) -> Any:
    """The Python-level __get__ of a descriptor's type, or None if it has none/native."""
    get = lookup_special(type(descr), "__get__")
    return get if type(get) is types.FunctionType else None


def _is_data_descriptor(descr: Any) -> bool:
    tp = type(descr)
    return lookup_special(tp, "__set__") is not _MISSING or lookup_special(tp, "__delete__") is not _MISSING


def _property_name(prop: property, owner: type) -> str:
    for klass in owner.__mro__:
        for key, value in klass.__dict__.items():
            if value is prop:
                return repr(key)
    return "<unnamed>"


_MATCH_SELF_TYPES = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)


class AttributesMixin:
    """load_attr / store_attr / delete_attr for Interpreter."""

    def load_attr(self, obj: Any, name: str) -> Any:
        t = type(obj)
        if t is TensorProxy:
            return self.tensors.attr(obj, name)
        if t in SAFE_TYPES or issubclass(type(obj), types.ModuleType):
            # Module attributes (a module __getattr__ is library lazy loading) run natively.
            return getattr(obj, name)
        if issubclass(type(obj), torch.nn.Module):
            return self.modules.attr(obj, name)
        if issubclass(type(obj), torch.Tensor):
            return self.tensors.attr(self.tensors.lift(obj), name)
        if issubclass(type(obj), type):
            return self.class_attr(obj, name)
        if t is super:
            return self.super_attr(obj, name)
        if is_trusted(obj):
            if name == "__class__":
                return python_type(obj)     # a stand-in answers as the object it stands for
            return getattr(obj, name)
        if name == "__traceback__" and issubclass(t, BaseException):
            return self.tracebacks.of(obj)
        return self.generic_getattr(obj, name)

    def generic_getattr(self, obj: Any, name: str) -> Any:
        tp = type(obj)
        getattribute = lookup_special(tp, "__getattribute__")
        if type(getattribute) is types.FunctionType:
            try:
                return self.inline(getattribute, (obj, name), {})
            except AttributeError as exc:
                return self._getattr_fallback(obj, name, exc)
        try:
            if not _is_generic_getattribute(getattribute):
                # A C type with its own attribute lookup (not object's generic one).
                return self.guard.run_native(getattr, obj, name)
            return self.object_getattribute(obj, name)
        except AttributeError as exc:
            return self._getattr_fallback(obj, name, exc)

    def _getattr_fallback(self, obj: Any, name: str, exc: AttributeError) -> Any:
        fallback = lookup_special(type(obj), "__getattr__")
        if fallback is _MISSING:
            raise exc
        return self.call_unbound(fallback, obj, (name,))

    def object_getattribute(self, obj: Any, name: str) -> Any:
        """`object.__getattribute__` with Python descriptors interpreted."""
        tp = type(obj)
        descr = lookup_special(tp, name)
        if descr is not _MISSING and not issubclass(type(descr), _NATIVE_DESCRIPTORS) \
                and type(descr) is not types.FunctionType and _is_data_descriptor(descr):
            return self.bind_descriptor(descr, obj, tp)
        try:
            instance_dict = _object_getattribute(obj, "__dict__")
        except AttributeError:
            instance_dict = None
        if instance_dict is not None and name in instance_dict:
            return instance_dict[name]
        if descr is not _MISSING:
            return self.bind_descriptor(descr, obj, tp)
        if instance_dict is None and name == "__dict__":
            raise AttributeError(f"'{display_name(tp)}' object has no attribute '__dict__'")
        raise AttributeError(f"'{display_name(tp)}' object has no attribute '{name}'")

    def bind_descriptor(self, descr: Any, obj: Any, owner: type) -> Any:
        t = type(descr)
        if t is types.FunctionType:
            return types.MethodType(descr, obj) if obj is not None else descr
        if t is property:
            if obj is None:
                return descr
            if descr.fget is None:
                raise AttributeError(f"property {_property_name(descr, owner)} of "
                                     f"'{type(obj).__qualname__}' object has no getter")
            return self.call(descr.fget, (obj,), {})
        if t is classmethod and type(descr.__func__) is types.FunctionType:
            return types.MethodType(descr.__func__, owner if owner is not None else type(obj))
        if t is staticmethod:
            return descr.__func__
        if obj is not None and t in (types.WrapperDescriptorType, types.MethodDescriptorType):
            # Bind as a bound method so the call policy sees the unbound slot (object.__setattr__).
            return types.MethodType(descr, obj)
        if issubclass(type(descr), _NATIVE_DESCRIPTORS):
            return descr.__get__(obj, owner)
        get = _python_get(descr)
        if get is not None:
            return self.inline(get, (descr, obj, owner), {})
        native_get = getattr(t, "__get__", None)
        if native_get is not None:
            return native_get(descr, obj, owner)
        return descr

    def class_attr(self, cls: type, name: str) -> Any:
        """`type.__getattribute__` (type_getattro) with Python descriptors interpreted."""
        meta = type(cls)
        meta_getattribute = lookup_special(meta, "__getattribute__")
        try:
            if type(meta_getattribute) is types.FunctionType:
                return self.inline(meta_getattribute, (cls, name), {})
            meta_attr = lookup_special(meta, name)
            if meta_attr is not _MISSING and _is_data_descriptor(meta_attr):
                return self.bind_descriptor(meta_attr, cls, meta)
            attr = lookup_special(cls, name)
            if attr is not _MISSING:
                if lookup_special(type(attr), "__get__") is not _MISSING:
                    return self.bind_descriptor(attr, None, cls)
                return attr
            if meta_attr is not _MISSING:
                if lookup_special(type(meta_attr), "__get__") is not _MISSING:
                    return self.bind_descriptor(meta_attr, cls, meta)
                return meta_attr
            raise AttributeError(f"type object '{cls.__name__}' has no attribute '{name}'")
        except AttributeError:
            fallback = lookup_special(meta, "__getattr__")
            if fallback is _MISSING:
                raise
            return self.call_unbound(fallback, cls, (name,))

    # ------------------------------------------------------------------ stores
    def store_attr(self, obj: Any, name: str, value: Any) -> None:
        t = type(obj)
        if t is TensorProxy:
            self.tensors.set_attr(obj, name, value)
            return
        if issubclass(type(obj), torch.nn.Module):
            self.modules.set_attr(obj, name, value)
            return
        if name == "__traceback__" and issubclass(t, BaseException):
            self.tracebacks.set(obj, value)
            return
        setattr_impl = lookup_special(t, "__setattr__")
        if type(setattr_impl) is types.FunctionType:
            self.inline(setattr_impl, (obj, name, value), {})
            return
        self.object_setattr(obj, name, value)

    def object_setattr(self, obj: Any, name: str, value: Any) -> None:
        tp = type(obj)
        descr = lookup_special(tp, name)
        if descr is not _MISSING:
            if type(descr) is property:
                if descr.fset is None:
                    raise AttributeError(f"property '{name}' of '{tp.__qualname__}' object has no setter")
                self.call(descr.fset, (obj, value), {})
                return
            setter = lookup_special(type(descr), "__set__")
            if type(setter) is types.FunctionType:
                self.inline(setter, (descr, obj, value), {})
                return
        self.record_attr(obj, name)
        native_slot(obj, "__setattr__", _object_setattr)(obj, name, value)

    def delete_attr(self, obj: Any, name: str) -> None:
        t = type(obj)
        if issubclass(type(obj), torch.nn.Module):
            self.modules.del_attr(obj, name)
            return
        delattr_impl = lookup_special(t, "__delattr__")
        if type(delattr_impl) is types.FunctionType:
            self.inline(delattr_impl, (obj, name), {})
            return
        descr = lookup_special(t, name)
        if type(descr) is property:
            if descr.fdel is None:
                raise AttributeError(f"property '{name}' of '{t.__qualname__}' object has no deleter")
            self.call(descr.fdel, (obj,), {})
            return
        self.record_attr(obj, name)
        native_slot(obj, "__delattr__", _object_delattr)(obj, name)

    def record_attr(self, obj: Any, name: str) -> None:
        """Log the old value of obj.name so the sandbox can restore it."""
        self.state.sandbox.record_attr(obj, name)

    # ------------------------------------------------------------------ super()
    def make_super(self, args: tuple) -> Any:
        if args:
            if len(args) == 2 and type(args[1]) is TensorProxy:
                return TensorSuper(self, args[0], args[1])
            return super(*args)
        frame = self.frames[-1]
        code = frame.code
        if "__class__" not in code.co_freevars or code.co_argcount + code.co_kwonlyargcount == 0 \
                and not code.co_flags & 0x04:
            raise RuntimeError("super(): no arguments")
        cell = frame.localsplus[frame.decoded.localsplus_names.index("__class__")]
        first = frame.localsplus[0]
        if issubclass(type(first), types.CellType) and 0 in frame.decoded.cell_indices:
            first = first.cell_contents
        if type(first) is TensorProxy:
            return TensorSuper(self, cell.cell_contents, first)
        return super(cell.cell_contents, first)

    def super_attr(self, sup: super, name: str) -> Any:
        """Attribute lookup on a super object, with Python descriptors interpreted."""
        start = sup.__thisclass__
        obj = sup.__self__
        owner = sup.__self_class__
        if obj is None or name == "__class__":
            return getattr(sup, name)
        mro = owner.__mro__
        try:
            index = mro.index(start)
        except ValueError:
            return getattr(sup, name)
        for klass in mro[index + 1:]:
            if name in klass.__dict__:
                descr = klass.__dict__[name]
                instance = None if obj is owner else obj
                return self.bind_descriptor(descr, instance, owner) if hasattr(type(descr), "__get__") \
                    else descr
        return getattr(sup, name)

    # ------------------------------------------------------------------ match statements
    def match_class(self, subject: Any, cls: Any, count: int, names: tuple) -> tuple | None:
        if not issubclass(type(cls), type):
            raise TypeError("called match pattern must be a class")
        if not self.call(isinstance, (subject, cls), {}):
            return None
        attrs = []
        seen: set[str] = set()
        if count:
            match_args = getattr(cls, "__match_args__", _MISSING)
            if match_args is _MISSING:
                if issubclass(cls, _MATCH_SELF_TYPES) and count == 1:
                    attrs.append(subject)
                    match_args = ()
                    count = 0
                else:
                    match_args = ()
            if not issubclass(type(match_args), tuple):
                raise TypeError(f"{cls.__name__}.__match_args__ must be a tuple")
            if count > len(match_args):
                raise TypeError(f"{cls.__name__}() accepts {len(match_args)} positional "
                                f"sub-pattern{'s' if len(match_args) != 1 else ''} ({count} given)")
            for name in match_args[:count]:
                seen.add(name)
                try:
                    attrs.append(self.load_attr(subject, name))
                except AttributeError:
                    return None
        for name in names:
            if name in seen:
                raise TypeError(f"{cls.__name__}() got multiple sub-patterns for attribute '{name}'")
            try:
                attrs.append(self.load_attr(subject, name))
            except AttributeError:
                return None
        return tuple(attrs)


class TensorSuper:
    """super() inside a torch.Tensor method running on a proxy (`super().unflatten(...)` in
    torch/_tensor.py): attributes come from the classes after `thisclass` in the MRO."""

    _strict_tracer_native = True

    def __init__(self, interp, thisclass: type, proxy: TensorProxy) -> None:
        self._interp = interp
        self._thisclass = thisclass
        self._proxy = proxy

    def __getattr__(self, name: str) -> Any:
        from ..tensors.tensor_methods import TensorMethod
        proxy, interp = self._proxy, self._interp
        mro = proxy.py_type.__mro__
        start = mro.index(self._thisclass) + 1 if self._thisclass in mro else len(mro)
        for klass in mro[start:]:
            if name in klass.__dict__:
                raw = klass.__dict__[name]
                t = type(raw)
                if t is types.FunctionType:
                    return types.MethodType(raw, proxy)
                if t in (types.MethodDescriptorType, types.WrapperDescriptorType):
                    return TensorMethod(interp, proxy, raw, name)
                if t is types.GetSetDescriptorType:
                    return interp.tensors.attr(proxy, name)
                return interp.bind_descriptor(raw, proxy, proxy.py_type)
        raise AttributeError(f"'super' object has no attribute '{name}'")
