"""Iteration and subscripts for Interpreter: iter()/next() and obj[key] reads, writes and
deletes, with the program's __iter__/__next__/__getitem__/... interpreted (protocols.py holds
the operators, truth and containment)."""
from __future__ import annotations

import collections
import operator
import types
from typing import Any

from ...proxy import TensorProxy
from ..registry import SERVICES
from .protocols import (_MISSING, PURE_ITERATORS, SAFE_TYPES, display_name, is_plain,
                        is_trusted, lookup_special)


class ContainersMixin:
    """Iteration and subscript protocols for Interpreter."""

    # ------------------------------------------------------------------ iteration
    def get_iter(self, v: Any) -> Any:
        t = type(v)
        if t in SAFE_TYPES or t in PURE_ITERATORS or is_trusted(v):
            return iter(v)
        if t is TensorProxy:
            return self.tensors.iterate(v)
        raw = lookup_special(t, "__iter__")
        if raw is None:
            raise TypeError(f"'{display_name(t)}' object is not iterable")
        if raw is not _MISSING:
            it = self.call_slot(raw, v, ())
            if lookup_special(type(it), "__next__") is _MISSING:
                raise TypeError(f"iter() returned non-iterator of type '{display_name(type(it))}'")
            return it
        if lookup_special(t, "__getitem__") is not _MISSING:
            from .generators import SequenceIterator
            return SequenceIterator(self, v)
        raise TypeError(f"'{display_name(t)}' object is not iterable")

    def next_item(self, it: Any) -> Any:
        """next(it); raises StopIteration when exhausted."""
        t = type(it)
        if t in PURE_ITERATORS or is_trusted(it):
            return next(it)
        raw = lookup_special(t, "__next__")
        if raw is _MISSING:
            raise TypeError(f"'{display_name(t)}' object is not an iterator")
        if type(raw) is types.FunctionType:
            return self.call_unbound(raw, it, ())
        return self.guard.run_native(next, it)

    # ------------------------------------------------------------------ subscripts
    def subscr(self, obj: Any, key: Any) -> Any:
        t = type(obj)
        if t is dict:
            return obj[key] if is_plain(key) else self.guard.run_native(operator.getitem, obj, key)
        if t in SAFE_TYPES:
            kt = type(key)
            if kt is int or kt is slice:
                return obj[key]
            if kt is not TensorProxy and type(lookup_special(kt, "__index__")) is types.FunctionType:
                    return obj[SERVICES["index_of"](self, key)]
            return self.guard.run_native(operator.getitem, obj, key)
        if t is TensorProxy:
            return self.tensors.op(operator.getitem, (obj, key), {})
        if issubclass(type(obj), type):
            meta_getitem = lookup_special(type(obj), "__getitem__")
            if meta_getitem is _MISSING:
                try:
                    class_getitem = self.load_attr(obj, "__class_getitem__")
                except AttributeError:
                    raise TypeError(f"type '{obj.__name__}' is not subscriptable") from None
                return self.call(class_getitem, (key,), {})
        raw = lookup_special(t, "__getitem__")
        if raw is _MISSING or raw is None:
            raise TypeError(f"'{display_name(t)}' object is not subscriptable")
        if raw is dict.__getitem__:
            return self._dict_subclass_getitem(obj, key)
        return self.call_slot(raw, obj, (key,))

    def _dict_subclass_getitem(self, obj: dict, key: Any) -> Any:
        """dict.__getitem__ on a subclass: __missing__ (defaultdict's factory, Counter's 0, a
        Python __missing__) runs in the interpreter."""
        if not self.contains(obj, key):
            missing = lookup_special(type(obj), "__missing__")
            if missing is collections.defaultdict.__missing__:
                if obj.default_factory is None:
                    raise KeyError(key)
                value = self.call(obj.default_factory, (), {})
                self.store_subscr(obj, key, value)
                return value
            if missing is not _MISSING:
                return self.call_slot(missing, obj, (key,))
            raise KeyError(key)
        return self.guard.run_native(dict.__getitem__, obj, key)

    def store_subscr(self, obj: Any, key: Any, value: Any) -> None:
        t = type(obj)
        if t is TensorProxy:
            self.tensors.op(operator.setitem, (obj, key, value), {})
            return
        if t is list or t is dict or t is bytearray:
            self.state.sandbox.before_mutation(obj)
            if t is list and type(key) is int or t is dict and is_plain(key):
                obj[key] = value
            else:
                self.guard.run_native(operator.setitem, obj, key, value)
            return
        raw = lookup_special(t, "__setitem__")
        if raw is _MISSING or raw is None:
            raise TypeError(f"'{display_name(t)}' object does not support item assignment")
        if type(raw) is not types.FunctionType and issubclass(type(obj), (list, dict, bytearray, collections.deque)):
            self.state.sandbox.before_mutation(obj)
        self.call_slot(raw, obj, (key, value))

    def delete_subscr(self, obj: Any, key: Any) -> None:
        t = type(obj)
        if t is list or t is dict or t is bytearray:
            self.state.sandbox.before_mutation(obj)
            self.guard.run_native(operator.delitem, obj, key)
            return
        raw = lookup_special(t, "__delitem__")
        if raw is _MISSING or raw is None:
            raise TypeError(f"'{display_name(t)}' object does not support item deletion")
        if type(raw) is not types.FunctionType and issubclass(type(obj), (list, dict, bytearray, collections.deque)):
            self.state.sandbox.before_mutation(obj)
        self.call_slot(raw, obj, (key,))

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
