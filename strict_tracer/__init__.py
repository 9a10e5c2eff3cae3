"""strict_tracer: strict graph capture for PyTorch through a CPython 3.11 bytecode interpreter."""
from .api import export
from .errors import (Category, ConstraintViolationError, GraphBreakError, InternalTracerError,
                     StrictTracerError, UserInputError)

__all__ = [
    "export", "Category", "ConstraintViolationError", "GraphBreakError", "InternalTracerError",
    "StrictTracerError", "UserInputError",
]
