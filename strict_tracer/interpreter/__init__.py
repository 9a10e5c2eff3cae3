"""strict_tracer's CPython 3.11 bytecode interpreter."""
from .core import HANDLERS, REFUSED_OPCODES, Interpreter

__all__ = ["HANDLERS", "REFUSED_OPCODES", "Interpreter"]
