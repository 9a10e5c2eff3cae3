"""Warnings attributed to the user's call into strict_tracer.

`warnings.warn(..., stacklevel=N)` with a fixed N points into strict_tracer itself whenever
the warning is raised at a different call depth (export vs explain, nested specs). Python 3.11
has no `skip_file_prefixes`, so the stack level is counted: the warning is attributed to the
innermost frame that is not strict_tracer's own code (the line calling export()/explain()).
"""
from __future__ import annotations

import sys
import warnings


def _is_own(module_name: str) -> bool:
    return module_name == "strict_tracer" or module_name.startswith("strict_tracer.")


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """warnings.warn(message, category) pointing at the caller of strict_tracer."""
    frame = sys._getframe(1)
    level = 2
    while frame is not None and _is_own(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
