"""strict_tracer's CPython 3.11-3.13 bytecode interpreter, in rooms:

- core.py, frame.py, decode.py, versions.py: the run loop, frames, the decoder;
  registry.py: the import-free tables the loop dispatches through;
- handlers/: opcode handlers by family; objects/: the Python object model;
- calls/: the call policy and what each answer runs; tensors/: proxies and torch natives;
- lookasides/: polyfills and re-entry adapters; diagnostics/: locations, logs, explain().

Importing the package registers the opcode handlers and the lookasides; the run loop imports
none of them.
"""
from .calls import fx_wrapped_call, module_tricks  # noqa: F401  (register)
from .handlers import build, call, flow, intrinsics, py312, py313, stack  # noqa: F401
from .lookasides import (builtin_handlers, plumbing, polyfills, polyfills_folds,  # noqa: F401
                         polyfills_lib)
from .objects import copy_protocol  # noqa: F401
from .tensors import (autocast_handlers, collectives, numpy_calls, symbolic_calls,  # noqa: F401
                      tensor_from_values, torch_handlers)
from .core import Interpreter
from .registry import HANDLERS, REFUSED_OPCODES

__all__ = ["HANDLERS", "REFUSED_OPCODES", "Interpreter"]
