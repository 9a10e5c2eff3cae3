"""Handlers of the opcodes CPython 3.13 introduced, and of the 3.13 forms that push NULL after
the callable (LOAD_GLOBAL, method loads, CALL_FUNCTION_EX) instead of before it."""
from __future__ import annotations

import types

from ..registry import handler
from ..frame import NULL, UNBOUND, load_global
from .build import convert_value, make_function
from .call import call_ex, op_call
from .flow import jump_truth
from .py312 import _super_attr

PY313 = (3, 13)


# ---------------------------------------------------------------- NULL after the callable
@handler("LOAD_GLOBAL", since=PY313)
def op_load_global(interp, frame, instr):
    push_null, name = instr.arg
    frame.stack.append(load_global(frame, name))
    if push_null:
        frame.stack.append(NULL)


@handler("LOAD_ATTR:method", since=PY313)
def op_load_method(interp, frame, instr):
    frame.stack[-1] = interp.load_attr(frame.stack[-1], instr.arg)
    frame.stack.append(NULL)


@handler("LOAD_SUPER_ATTR:method", since=PY313)
def op_load_super_method(interp, frame, instr):
    frame.stack[-1] = _super_attr(interp, frame, instr)
    frame.stack.append(NULL)


@handler("CALL_KW", since=PY313)
def op_call_kw(interp, frame, instr):
    """callable, self-or-NULL, arguments, the keyword names tuple (3.12's KW_NAMES)."""
    frame.kwnames = frame.stack.pop()
    return op_call(interp, frame, instr)


@handler("CALL_FUNCTION_EX", since=PY313)
def op_call_function_ex(interp, frame, instr):
    stack = frame.stack
    kwargs = stack.pop() if instr.raw_arg & 1 else {}
    args = stack.pop()
    stack.pop()                      # the NULL pushed after the callable
    fn = stack.pop()
    stack.append(call_ex(interp, fn, args, kwargs))


# ---------------------------------------------------------------- truth
@handler("TO_BOOL", since=PY313)
def op_to_bool(interp, frame, instr):
    value = frame.stack[-1]
    if type(value) is not bool:
        frame.stack[-1] = jump_truth(interp, frame, value)


# ---------------------------------------------------------------- superinstructions
def _load(frame, index):
    value = frame.localsplus[index]
    if value is UNBOUND:
        name = frame.decoded.localsplus_names[index]
        raise UnboundLocalError(f"cannot access local variable '{name}' where it is not "
                                "associated with a value")
    return value


@handler("LOAD_FAST_LOAD_FAST", since=PY313)
def op_load_fast_load_fast(interp, frame, instr):
    first, second = instr.arg
    frame.stack.append(_load(frame, first))
    frame.stack.append(_load(frame, second))


@handler("STORE_FAST_LOAD_FAST", since=PY313)
def op_store_fast_load_fast(interp, frame, instr):
    store, load = instr.arg
    frame.localsplus[store] = frame.stack.pop()
    frame.stack.append(_load(frame, load))


@handler("STORE_FAST_STORE_FAST", since=PY313)
def op_store_fast_store_fast(interp, frame, instr):
    first, second = instr.arg
    frame.localsplus[first] = frame.stack.pop()
    frame.localsplus[second] = frame.stack.pop()


# ---------------------------------------------------------------- functions
@handler("MAKE_FUNCTION", since=PY313)
def op_make_function(interp, frame, instr):
    """The bare function; SET_FUNCTION_ATTRIBUTE instructions follow for its parts. A code
    object with free variables gets placeholder cells until its closure is set."""
    code = frame.stack.pop()
    closure = tuple(types.CellType() for _ in code.co_freevars) or None
    frame.stack.append(make_function(interp, frame, code, None, None, None, closure))


@handler("SET_FUNCTION_ATTRIBUTE", since=PY313)
def op_set_function_attribute(interp, frame, instr):
    stack = frame.stack
    fn = stack.pop()
    value = stack.pop()
    flag = instr.arg
    if flag == 0x08:
        # __closure__ is read-only: rebuild the function, which only this stack has seen.
        fn = make_function(interp, frame, fn.__code__, fn.__defaults__, fn.__kwdefaults__,
                           fn.__annotations__ or None, value)
    elif flag == 0x04:
        if issubclass(type(value), tuple):
            value = dict(zip(value[::2], value[1::2]))
        fn.__annotations__ = value
    elif flag == 0x02:
        fn.__kwdefaults__ = value
    elif flag == 0x01:
        fn.__defaults__ = value
    else:
        raise SystemError(f"unexpected SET_FUNCTION_ATTRIBUTE flag {flag}")
    stack.append(fn)


# ---------------------------------------------------------------- f-strings
@handler("CONVERT_VALUE", since=PY313)
def op_convert_value(interp, frame, instr):
    frame.stack[-1] = convert_value(interp, frame.stack[-1], instr.arg)


@handler("FORMAT_SIMPLE", since=PY313)
def op_format_simple(interp, frame, instr):
    value = frame.stack[-1]
    if type(value) is not str:
        frame.stack[-1] = interp.text.format_value(value, "")


@handler("FORMAT_WITH_SPEC", since=PY313)
def op_format_with_spec(interp, frame, instr):
    spec = frame.stack.pop()
    frame.stack[-1] = interp.text.format_value(frame.stack[-1], spec)

