"""str(), repr() and format() of the program's values, with their Python dunders interpreted:
the Interpreter's collaborator `interp.text` (FORMAT_VALUE, f-strings, print, str/repr/
format/ascii). Symbolic scalars are specialized; tensors are refused (no values to print)."""
from __future__ import annotations

import types
from typing import Any

from ...errors import Category
from ...proxy import SymSize, TensorProxy
from ...symbolic import SymValue
from .protocols import SAFE_TYPES, display_name, lookup_special

_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


class Text:
    """Text conversions; needs the interpreter only to call dunders and build refusals."""

    __slots__ = ("_interp", "_guard", "_repr_active")

    def __init__(self, interp) -> None:
        self._interp = interp
        self._guard = interp.guard
        self._repr_active: set[int] = set()     # containers being repr'd (Py_ReprEnter)

    def to_str(self, value: Any) -> str:
        t = type(value)
        if t is str:
            return value
        if t in _CONTAINERS:
            return self.to_repr(value)
        if t in SAFE_TYPES:
            return str(value)
        if t is TensorProxy:
            raise self._needs_data("str()", value)
        if issubclass(t, SymValue):
            return str(self.specialize_scalar(value))
        raw = lookup_special(t, "__str__")
        if type(raw) is types.FunctionType:
            return self._checked_text(self._interp.call_unbound(raw, value, ()), "__str__")
        if raw is object.__str__:
            return self.to_repr(value)
        return self._guard.run_native(str, value)

    def to_repr(self, value: Any) -> str:
        t = type(value)
        if t in SAFE_TYPES and t not in _CONTAINERS:
            return repr(value)
        if t is TensorProxy:
            raise self._needs_data("repr()", value)
        if issubclass(t, SymValue):
            return repr(self.specialize_scalar(value))
        if t in _CONTAINERS:
            return self._container_repr(value)
        if t is SymSize:
            return f"torch.Size([{', '.join(self.to_repr(v) for v in value)}])"
        raw = lookup_special(t, "__repr__")
        if type(raw) is types.FunctionType:
            return self._checked_text(self._interp.call_unbound(raw, value, ()), "__repr__")
        return self._guard.run_native(repr, value)

    def _container_repr(self, value: Any) -> str:
        """list/tuple/dict/set repr with the elements' reprs interpreted (Py_ReprEnter's
        '...' for a container that contains itself)."""
        t = type(value)
        active = self._repr_active
        if id(value) in active:
            return "[...]" if t is list else "{...}" if t is dict else "..."
        active.add(id(value))
        try:
            if t is dict:
                return "{" + ", ".join(f"{self.to_repr(k)}: {self.to_repr(v)}"
                                       for k, v in list(value.items())) + "}"
            inner = ", ".join(self.to_repr(v) for v in list(value))
            if t is list:
                return f"[{inner}]"
            if t is tuple:
                return f"({inner},)" if len(value) == 1 else f"({inner})"
            if not value:
                return f"{display_name(t)}()"
            return "{" + inner + "}" if t is set else f"frozenset({{{inner}}})"
        finally:
            active.discard(id(value))

    @staticmethod
    def _checked_text(result: Any, name: str) -> str:
        if not issubclass(type(result), str):
            raise TypeError(f"{name} returned non-string (type {display_name(type(result))})")
        return result

    def format_value(self, value: Any, spec: str = "") -> str:
        t = type(value)
        if t in _CONTAINERS and not spec:
            return self.to_str(value)
        if t in SAFE_TYPES:
            return format(value, spec)
        if t is TensorProxy:
            raise self._needs_data("formatting", value)
        if issubclass(t, SymValue):
            return format(self.specialize_scalar(value), spec)
        raw = lookup_special(t, "__format__")
        if type(raw) is types.FunctionType:
            result = self._interp.call_unbound(raw, value, (spec,))
            if not issubclass(type(result), str):
                raise TypeError(f"__format__ must return a str, not {display_name(type(result))}")
            return result
        if raw is object.__format__:
            if spec:
                raise TypeError(f"unsupported format string passed to {display_name(t)}.__format__")
            return self.to_str(value)
        return self._guard.run_native(format, value, spec)

    def specialize_scalar(self, value: SymValue) -> Any:
        return value.env.specialize(value)

    def _needs_data(self, what: str, value: Any):
        return self._interp.refuse(Category.DATA_DEPENDENT_VALUE,
                           f"{what} of a tensor needs its values, which do not exist while tracing",
                           hint="format shapes or dtypes instead, or return the tensor",
                           operands=(value,))
