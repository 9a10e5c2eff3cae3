"""Run a plain Python function through the interpreter (no export): for differential tests."""
from __future__ import annotations

from typing import Any, Callable

import torch

from .. import context


def run_python(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Interpret `fn(*args, **kwargs)` bytecode by bytecode and return its result.

    Tensors must not be passed (they would need placeholders); use export() for tensor code.
    """
    from ..trace.trace_state import TraceState
    from .core import Interpreter

    with context.export_lock:
        state = TraceState(torch.nn.Module())
        interp = Interpreter(state)
        try:
            with context.activate(interp):
                return interp.call(fn, args, kwargs)
        finally:
            state.sandbox.restore_all()
