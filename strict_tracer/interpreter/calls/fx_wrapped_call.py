"""Calls of an fx.GraphModule (an exported program's `.module()`, re-exported).

GraphModule.__call__ goes through `_WrappedCall`, whose only job beyond calling the generated
forward is to decorate an escaping exception with the generated code's source lines (reading
files through linecache). That decoration is native file access the tracer refuses, and it
would turn e.g. the unlifted module's "Guard failed" AssertionError into a refusal; so the
wrapper is skipped and the exception propagates unchanged, as the call it wraps raised it.
"""
from __future__ import annotations

from typing import Any

from torch.fx.graph_module import _WrappedCall

from ..registry import CALL_SPECIAL


def _call_wrapped(interp: Any, wrapped: _WrappedCall, args: tuple, kwargs: dict) -> Any:
    obj, *rest = args
    if wrapped.cls_call is not None:
        return interp.call_unbound(wrapped.cls_call, obj, tuple(rest), kwargs)
    mro = type(obj).__mro__
    for klass in mro[mro.index(wrapped.cls) + 1:]:        # super(cls, obj).__call__
        raw = klass.__dict__.get("__call__")
        if raw is not None:
            return interp.call_unbound(raw, obj, tuple(rest), kwargs)
    raise TypeError(f"'{type(obj).__name__}' object is not callable")


CALL_SPECIAL[_WrappedCall] = _call_wrapped
