"""The native-call guard lets the garbage collector's Python callbacks run: a collection that
starts while a native allocates is not the native calling user code."""
import gc

import torch

from strict_tracer.interpreter.core import Interpreter
from strict_tracer.trace.trace_state import TraceState


def test_gc_callbacks_during_a_native_call_are_not_refused():
    seen = []

    def callback(phase, info):
        seen.append(phase)

    interp = Interpreter(TraceState(torch.nn.Module()))
    gc.callbacks.append(callback)
    try:
        interp.guard.run_native(gc.collect)
    finally:
        gc.callbacks.remove(callback)
    assert seen == ["start", "stop"]
