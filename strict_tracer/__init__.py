"""strict_tracer: strict graph capture for PyTorch through a CPython 3.11 bytecode interpreter."""
from .api import export
from .errors import (Category, ConstraintViolationError, GraphBreakError, InternalTracerError,
                     StrictTracerError, UserInputError)
from .explain import ExplainReport, explain

__all__ = [
    "export", "explain", "ExplainReport", "Category", "ConstraintViolationError", "GraphBreakError", "InternalTracerError",
    "StrictTracerError", "UserInputError",
]
