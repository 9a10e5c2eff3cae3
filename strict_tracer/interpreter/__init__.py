"""strict_tracer's CPython 3.11-3.13 bytecode interpreter.

Importing the package registers the opcode handlers and the lookasides (registry.py); the run
loop (core.py) reads the tables and imports none of them.
"""
from . import (autocast_handlers, builtin_handlers, copy_protocol,  # noqa: F401  (register)
               fx_wrapped_call, module_tricks, numpy_calls, ops_build, ops_call, ops_flow,
               ops_stack, plumbing, polyfills, polyfills_lib, symbolic_calls,
               tensor_from_values, torch_handlers)
from . import intrinsics, ops_312, ops_313  # noqa: F401  (3.12/3.13 opcodes)
from .core import Interpreter
from .registry import HANDLERS, REFUSED_OPCODES

__all__ = ["HANDLERS", "REFUSED_OPCODES", "Interpreter"]
