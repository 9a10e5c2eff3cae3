"""Value helpers for Interpreter: iteration into lists, names, imports, super(), match."""
from __future__ import annotations

import types
from typing import Any

from ...proxy import TensorProxy
from .protocols import _MISSING, SAFE_TYPES, lookup_special, display_name

_MATCH_SELF_TYPES = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)


class ValuesMixin:

    # ------------------------------------------------------------------ sandbox shortcuts
    def before_mutation(self, container: Any) -> None:
        self.state.sandbox.before_mutation(container)

    def mark_fresh(self, obj: Any) -> None:
        self.state.sandbox.mark_fresh(obj)

    # ------------------------------------------------------------------ iteration helpers
    def iterate(self, iterable: Any, limit: int | None = None) -> list:
        """Drain an iterable through the iteration protocol (at most `limit` items)."""
        if type(iterable) in SAFE_TYPES and limit is None:
            return list(iterable)
        it = self.get_iter(iterable)
        items = []
        while limit is None or len(items) < limit:
            try:
                items.append(self.next_item(it))
            except StopIteration:
                break
        return items

    def mapping_items(self, mapping: Any) -> list[tuple[Any, Any]]:
        if type(mapping) is dict:
            return list(mapping.items())
        if lookup_special(type(mapping), "keys") is _MISSING:
            raise TypeError(f"'{display_name(type(mapping))}' object is not a mapping")
        keys = self.iterate(self.call(self.load_attr(mapping, "keys"), (), {}))
        return [(k, self.subscr(mapping, k)) for k in keys]

    def set_add(self, target: set, item: Any) -> None:
        if type(target) is set:
            target.add(item)
        else:
            self.call(self.load_attr(target, "add"), (item,), {})

    # ------------------------------------------------------------------ names and imports
    def load_global(self, frame, name: str) -> Any:
        try:
            return frame.globals[name]
        except KeyError:
            pass
        try:
            return frame.builtins[name]
        except KeyError:
            raise NameError(f"name '{name}' is not defined") from None

    def import_module(self, name: str, globals_: dict, fromlist: Any, level: int) -> Any:
        return __import__(name, globals_, None, fromlist, level)

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
