"""strict_tracer.symbolic: the sympy-based shape-guard engine.

Symbolic scalars (`SymInt`, `SymFloat`, `SymBool`) wrap a sympy expression and a hint;
`ShapeEnv` owns the symbols of one trace and records the guards tracing relies on.
"""
from .shape_env import DataDependentError, Guard, ShapeEnv, SymbolInfo
from .values import SymBool, SymFloat, SymInt, SymValue, hint_of, is_symbolic

__all__ = [
    "DataDependentError", "Guard", "ShapeEnv", "SymbolInfo",
    "SymBool", "SymFloat", "SymInt", "SymValue", "hint_of", "is_symbolic",
]
