"""strict_tracer: strict graph capture for PyTorch through a CPython 3.11 bytecode interpreter.

Public API: `export()` returns a `torch.export.ExportedProgram`; `explain()` returns an
`ExplainReport` listing every problem in one run; the error classes below are what both raise.
Property-based test helpers live in `strict_tracer.testing` (needs the `test` extra).

Logging follows the `logging` conventions: loggers live under `strict_tracer` (the package root
has a NullHandler; nothing is configured for you). `strict_tracer.bytecode` at DEBUG logs every
executed instruction, `strict_tracer.shapes` warns when a symbolic size is specialized.
Warnings are `warnings.warn` with the stack level of your call to export()/explain().
"""
import logging
from importlib.metadata import PackageNotFoundError, version

from .api import export
from .errors import (Category, ConstraintViolationError, GraphBreakError, InstructionInfo,
                     InternalTracerError, Location, StrictTracerError, UserFrame, UserInputError)
from .explain import ExplainReport, GuardRecord, Problem, explain

logging.getLogger(__name__).addHandler(logging.NullHandler())

try:
    __version__ = version("strict-tracer")     # the installed distribution's metadata
except PackageNotFoundError:                   # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "export", "explain", "ExplainReport", "Problem", "GuardRecord",
    "StrictTracerError", "GraphBreakError", "ConstraintViolationError", "UserInputError",
    "InternalTracerError", "Category", "UserFrame", "InstructionInfo", "Location",
]
