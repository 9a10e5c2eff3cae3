"""strict_tracer.symbolic: the sympy-based shape-guard engine.

Symbolic scalars (`SymInt`, `SymFloat`, `SymBool`) wrap a sympy expression and a hint;
`ShapeEnv` owns the symbols of one trace, decides conditions (replacements, value ranges and
facts before hints) and records the guards tracing relies on. `dims` parses `dynamic_shapes`,
`input_symbols` allocates the input symbols, `constraints` checks the result against the spec.
"""
from .shape_env import CheckFailed, DataDependentError, Guard, ShapeEnv, SymbolInfo
from .values import SymBool, SymFloat, SymInt, SymValue, hint_of, is_symbolic, sym_max, sym_min

__all__ = [
    "CheckFailed", "DataDependentError", "Guard", "ShapeEnv", "SymbolInfo",
    "SymBool", "SymFloat", "SymInt", "SymValue", "hint_of", "is_symbolic", "sym_max", "sym_min",
]
