"""The CPython versions the interpreter runs, and what differs between them beyond opcodes.

This is the only module that reads `sys.version_info`. Opcode differences live in the
decoder (decode.py: how a version's instructions are resolved) and in the dispatch table
(handlers are registered for a range of versions, registry.handler); the few differences that are
not opcodes (genobject.c behaviour) are named flags here, so a reader finds every version
difference from this file.
"""
from __future__ import annotations

import sys

SUPPORTED = ((3, 11), (3, 12), (3, 13))
PY: tuple[int, int] = (sys.version_info[0], sys.version_info[1])

if PY not in SUPPORTED:  # pragma: no cover - pyproject's requires-python keeps other versions out
    raise ImportError(f"strict_tracer interprets CPython 3.11, 3.12 and 3.13 bytecode, not "
                      f"{PY[0]}.{PY[1]}")


def active(since: tuple[int, int] | None = None, until: tuple[int, int] | None = None) -> bool:
    """Whether the running version is within [since, until] (both inclusive, None = open)."""
    return (since is None or PY >= since) and (until is None or PY <= until)


# genobject.c: when the sub-iterator of a suspended `yield from` ends (StopIteration) in
# response to throw(), 3.11 jumps over the SEND loop itself; 3.12 raises the StopIteration
# into the frame, where the exception table sends it to CLEANUP_THROW.
YIELD_FROM_STOP_RAISED_IN_FRAME = PY >= (3, 12)
# gen.close() returns the value of a generator that returns on GeneratorExit (3.13).
GENERATOR_CLOSE_RETURNS_VALUE = PY >= (3, 13)
# gen.throw(type, value, traceback) warns that the three-argument signature is deprecated.
THROW_THREE_ARGS_DEPRECATED = PY >= (3, 12)
# 3.12 limits C recursion to a fixed depth (Py_C_RECURSION_LIMIT, not sys.setrecursionlimit):
# recursion that passes through natives calling back (list(map(f, ...)) inside f) stops there
# first, with CPython's own RecursionError.
FIXED_C_RECURSION_LIMIT = PY == (3, 12)
# ceval.c: a Python function called by CALL runs inline; 3.11 and 3.12 skip the CALL's inline
# caches first, so an exception leaving the callee shows tb_lasti at the last cache entry;
# 3.13 shows the CALL itself.
INLINED_CALL_LASTI_AFTER_CACHES = PY <= (3, 12)
