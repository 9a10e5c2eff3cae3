"""Handlers of the opcodes CPython 3.12 introduced (3.13 keeps them): slices, inlined
comprehensions (PEP 709), RETURN_CONST, LOAD_SUPER_ATTR, the `yield from` forms that leave
their cleanup to END_SEND / CLEANUP_THROW, and the class-body loads of PEP 695.
Opcodes that never appear in a code object's co_code are refused here with the reason."""
from __future__ import annotations

import dis

from ..registry import handler, refused
from ..frame import NULL, UNBOUND, load_global
from .flow import send_step
from .stack import cell_value

PY312 = (3, 12)


# ---------------------------------------------------------------- slices
@handler("BINARY_SLICE", since=PY312)
def op_binary_slice(interp, frame, instr):
    stack = frame.stack
    stop = stack.pop()
    start = stack.pop()
    stack[-1] = interp.subscr(stack[-1], slice(start, stop))


@handler("STORE_SLICE", since=PY312)
def op_store_slice(interp, frame, instr):
    stack = frame.stack
    stop = stack.pop()
    start = stack.pop()
    container = stack.pop()
    value = stack.pop()
    interp.store_subscr(container, slice(start, stop), value)


# ---------------------------------------------------------------- locals and returns
@handler("LOAD_FAST_AND_CLEAR", since=PY312)
def op_load_fast_and_clear(interp, frame, instr):
    """PEP 709: save an outer variable an inlined comprehension rebinds (maybe unbound, pushed
    as such); a later STORE_FAST puts it back, unbound included."""
    frame.stack.append(frame.localsplus[instr.arg])
    frame.localsplus[instr.arg] = UNBOUND


@handler("RETURN_CONST", since=PY312)
def op_return_const(interp, frame, instr):
    frame.retval = instr.arg
    return True


# ---------------------------------------------------------------- super()
def _super_attr(interp, frame, instr):
    """super(cls, self).name (bit 1 of the oparg) or super().name, as LOAD_SUPER_ATTR calls
    whatever `super` names (a zero-argument call inspects the calling frame)."""
    name, nargs = instr.arg
    stack = frame.stack
    self_ = stack.pop()
    cls = stack.pop()
    sup = interp.call(stack[-1], (cls, self_)[:nargs], {})
    return interp.load_attr(sup, name)


@handler("LOAD_SUPER_ATTR", since=PY312)
def op_load_super_attr(interp, frame, instr):
    frame.stack[-1] = _super_attr(interp, frame, instr)


@handler("LOAD_SUPER_ATTR:method", since=PY312, until=PY312)
def op_load_super_method(interp, frame, instr):
    attr = _super_attr(interp, frame, instr)
    frame.stack[-1] = NULL
    frame.stack.append(attr)


# ---------------------------------------------------------------- loops and yield from
refused("END_FOR", "never reached: an exhausted FOR_ITER jumps past it (decode.py)",
        since=PY312)


@handler("SEND", since=PY312)
def op_send(interp, frame, instr):
    """receiver, value -> receiver, result; a finished sub-iterator jumps to END_SEND with its
    return value (3.11 replaced the receiver instead)."""
    stack = frame.stack
    done, stack[-1] = send_step(interp, stack[-2], stack[-1])
    if done:
        frame.ip = instr.arg


@handler("END_SEND", since=PY312)
def op_end_send(interp, frame, instr):
    value = frame.stack.pop()
    frame.stack[-1] = value


@handler("CLEANUP_THROW", since=PY312)
def op_cleanup_throw(interp, frame, instr):
    """An exception thrown into a `yield from`: StopIteration ends it with its value, anything
    else propagates (a re-raise, no new context)."""
    stack = frame.stack
    exc = stack.pop()
    if not issubclass(type(exc), StopIteration):
        interp.propagating = exc
        raise exc
    del stack[-2:]
    stack.append(None)
    stack.append(exc.value)


# ---------------------------------------------------------------- class bodies (PEP 695)
@handler("LOAD_LOCALS", since=PY312)
def op_load_locals(interp, frame, instr):
    if frame.locals_dict is None:
        raise SystemError("no locals found")
    frame.stack.append(frame.locals_dict)


_MISSING = object()


def _mapping_get(interp, mapping, name: str):
    """PyMapping_GetOptionalItem: the mapping's value for `name`, or _MISSING on KeyError."""
    if type(mapping) is dict:
        return mapping.get(name, _MISSING)
    try:
        return interp.subscr(mapping, name)
    except KeyError:
        return _MISSING


@handler("LOAD_FROM_DICT_OR_GLOBALS", since=PY312)
def op_load_from_dict_or_globals(interp, frame, instr):
    value = _mapping_get(interp, frame.stack[-1], instr.arg)
    frame.stack[-1] = value if value is not _MISSING else load_global(frame, instr.arg)


@handler("LOAD_FROM_DICT_OR_DEREF", since=PY312)
def op_load_from_dict_or_deref(interp, frame, instr):
    name = frame.decoded.localsplus_names[instr.arg]
    value = _mapping_get(interp, frame.stack[-1], name)
    frame.stack[-1] = value if value is not _MISSING else cell_value(frame, instr.arg)


# ---------------------------------------------------------------- never in co_code
_NEVER_IN_CODE = {
    "INTERPRETER_EXIT": "ends the C interpreter loop of a native call; never in a code object",
    "RESERVED": "a reserved opcode number; never in a code object",
    "ENTER_EXECUTOR": "the JIT's executor entry; co_code shows the instruction it replaced",
    "EXIT_INIT_CHECK": "part of the specializer's __init__ shim frames; never in a code object",
}
for _name, _why in _NEVER_IN_CODE.items():
    if _name in dis.opmap:
        refused(_name, _why, since=PY312)
for _name, _code in dis.opmap.items():
    if _name.startswith("INSTRUMENTED_"):
        refused(_name, "sys.monitoring instrumentation; co_code shows the original instruction",
                since=PY312)
    elif _code >= 256:
        refused(_name, "a compiler pseudo-instruction, lowered before a code object exists",
                since=PY312)
