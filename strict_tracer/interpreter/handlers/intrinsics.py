"""CALL_INTRINSIC_1 / CALL_INTRINSIC_2 (3.12+): one handler per intrinsic, keyed by the
decoder as "CALL_INTRINSIC_1:<name>"; the intrinsics traced code cannot use are refused."""
from __future__ import annotations

import inspect

from ..registry import handler, refused
from ..decode import INTRINSICS_1, INTRINSICS_2
from .flow import ASYNC_REFUSAL, IMPORT_STAR_REFUSAL, PRINT_REFUSAL, prep_reraise_star

PY312 = (3, 12)


def _key1(name: str) -> str:
    return f"CALL_INTRINSIC_1:{name}"


def _key2(name: str) -> str:
    return f"CALL_INTRINSIC_2:{name}"


@handler(_key1("INTRINSIC_STOPITERATION_ERROR"), since=PY312)
def op_stopiteration_error(interp, frame, instr):
    """The handler 3.12 wraps around generator bodies (PEP 479, done in genobject.c by 3.11):
    a StopIteration leaving the body becomes RuntimeError."""
    exc = frame.stack[-1]
    flags = frame.code.co_flags
    message = None
    if issubclass(type(exc), StopIteration):
        message = "generator raised StopIteration"
        if flags & inspect.CO_ASYNC_GENERATOR:
            message = "async generator raised StopIteration"
        elif flags & inspect.CO_COROUTINE:
            message = "coroutine raised StopIteration"
    elif flags & inspect.CO_ASYNC_GENERATOR and issubclass(type(exc), StopAsyncIteration):
        message = "async generator raised StopAsyncIteration"
    if message is not None:
        error = RuntimeError(message)
        error.__cause__ = exc
        error.__context__ = exc
        frame.stack[-1] = error


@handler(_key1("INTRINSIC_UNARY_POSITIVE"), since=PY312)
def op_unary_positive(interp, frame, instr):
    frame.stack[-1] = interp.unary("UNARY_POSITIVE", frame.stack[-1])


@handler(_key1("INTRINSIC_LIST_TO_TUPLE"), since=PY312)
def op_list_to_tuple(interp, frame, instr):
    frame.stack[-1] = tuple(frame.stack[-1])


@handler(_key2("INTRINSIC_PREP_RERAISE_STAR"), since=PY312)
def op_prep_reraise_star(interp, frame, instr):
    excs = frame.stack.pop()
    frame.stack[-1] = prep_reraise_star(frame.stack[-1], excs)


_PEP_695 = ("PEP 695/696 type parameters (`def f[T]`, `class C[T]`, `type X = ...`) defined "
            "inside traced code: their lazily evaluated bounds, constraints and values would run "
            "outside the interpreter; define them at module level")
_INVALID = "an invalid intrinsic number; the compiler never emits it"
refused(_key1("INTRINSIC_1_INVALID"), _INVALID, since=PY312)
refused(_key1("INTRINSIC_PRINT"), PRINT_REFUSAL, since=PY312)
refused(_key1("INTRINSIC_IMPORT_STAR"), IMPORT_STAR_REFUSAL, since=PY312)
refused(_key1("INTRINSIC_ASYNC_GEN_WRAP"), ASYNC_REFUSAL, since=PY312)
for _name in ("INTRINSIC_TYPEVAR", "INTRINSIC_PARAMSPEC", "INTRINSIC_TYPEVARTUPLE",
              "INTRINSIC_SUBSCRIPT_GENERIC", "INTRINSIC_TYPEALIAS"):
    refused(_key1(_name), _PEP_695, since=PY312)
refused(_key2("INTRINSIC_2_INVALID"), _INVALID, since=PY312)
for _name in INTRINSICS_2[2:]:
    refused(_key2(_name), _PEP_695, since=PY312)
