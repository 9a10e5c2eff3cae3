"""Export runs with Python's cyclic garbage collector paused.

Tracing allocates many long-lived objects (graph nodes, metadata, symbolic values); every
collection the allocations trigger scans all of them, so with the collector on, export time
per layer grew with model depth (GPT-2 style: 33 ms/layer at 8 layers, 52 ms/layer at 64)
while with it paused it stays flat (~35 ms/layer). The garbage an export leaves is small
(peak traced memory 38.2 MiB paused vs 37.7 MiB collecting, at 64 layers) and is collected
once the collector resumes. Reference counting still frees everything acyclic meanwhile.
"""
from __future__ import annotations

import functools
import gc
from typing import Any, Callable


def without_cyclic_gc(fn: Callable) -> Callable:
    """Run `fn` with the cyclic collector disabled, restoring its previous state after."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()
    return wrapper
