"""Handlers: jumps, comparisons, returns, iteration, exceptions, `with`, generators."""
from __future__ import annotations

import types

from .core import handler, refused
from .protocols import _MISSING, lookup_special


# ---------------------------------------------------------------- jumps
@handler("JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")
def op_jump(interp, frame, instr):
    frame.ip = instr.arg


@handler("POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_FALSE")
def op_pop_jump_if_false(interp, frame, instr):
    value = frame.stack.pop()
    if not (value if type(value) is bool else interp.truth(value)):
        frame.ip = instr.arg


@handler("POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_TRUE")
def op_pop_jump_if_true(interp, frame, instr):
    value = frame.stack.pop()
    if value if type(value) is bool else interp.truth(value):
        frame.ip = instr.arg


@handler("POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_BACKWARD_IF_NONE")
def op_pop_jump_if_none(interp, frame, instr):
    if frame.stack.pop() is None:
        frame.ip = instr.arg


@handler("POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_BACKWARD_IF_NOT_NONE")
def op_pop_jump_if_not_none(interp, frame, instr):
    if frame.stack.pop() is not None:
        frame.ip = instr.arg


@handler("JUMP_IF_FALSE_OR_POP")
def op_jump_if_false_or_pop(interp, frame, instr):
    value = frame.stack[-1]
    if not interp.truth(value):
        frame.ip = instr.arg
    else:
        frame.stack.pop()


@handler("JUMP_IF_TRUE_OR_POP")
def op_jump_if_true_or_pop(interp, frame, instr):
    value = frame.stack[-1]
    if interp.truth(value):
        frame.ip = instr.arg
    else:
        frame.stack.pop()


# ---------------------------------------------------------------- comparisons
@handler("COMPARE_OP")
def op_compare(interp, frame, instr):
    stack = frame.stack
    b = stack.pop()
    a = stack[-1]
    stack[-1] = interp.compare(instr.raw_arg, a, b)


@handler("IS_OP")
def op_is(interp, frame, instr):
    stack = frame.stack
    b = stack.pop()
    stack[-1] = (stack[-1] is b) != bool(instr.raw_arg)


@handler("CONTAINS_OP")
def op_contains(interp, frame, instr):
    stack = frame.stack
    container = stack.pop()
    item = stack[-1]
    stack[-1] = interp.contains(container, item) != bool(instr.raw_arg)


@handler("UNARY_NOT")
def op_unary_not(interp, frame, instr):
    frame.stack[-1] = not interp.truth(frame.stack[-1])


# ---------------------------------------------------------------- returns and iteration
@handler("RETURN_VALUE")
def op_return(interp, frame, instr):
    frame.retval = frame.stack.pop()
    return True


@handler("GET_ITER")
def op_get_iter(interp, frame, instr):
    frame.stack[-1] = interp.get_iter(frame.stack[-1])


@handler("FOR_ITER")
def op_for_iter(interp, frame, instr):
    it = frame.stack[-1]
    try:
        frame.stack.append(interp.next_item(it))
    except StopIteration:
        frame.stack.pop()
        frame.ip = instr.arg


@handler("GET_LEN")
def op_get_len(interp, frame, instr):
    frame.stack.append(interp.length_of(frame.stack[-1]))


# ---------------------------------------------------------------- generators
@handler("RETURN_GENERATOR")
def op_return_generator(interp, frame, instr):
    # inline() already made the generator object; its first send() pushed the value that the
    # following POP_TOP discards.
    pass


@handler("YIELD_VALUE")
def op_yield(interp, frame, instr):
    frame.retval = frame.stack.pop()
    frame.yielded = True
    return True


@handler("GET_YIELD_FROM_ITER")
def op_get_yield_from_iter(interp, frame, instr):
    from .generators import InterpretedGenerator
    value = frame.stack[-1]
    if type(value) is not InterpretedGenerator:
        frame.stack[-1] = interp.get_iter(value)


@handler("SEND")
def op_send(interp, frame, instr):
    from .generators import InterpretedGenerator
    stack = frame.stack
    value = stack.pop()
    receiver = stack[-1]
    try:
        if value is None:
            result = interp.next_item(receiver)
        elif type(receiver) is InterpretedGenerator:
            result = receiver.send(value)
        else:
            result = interp.call(interp.load_attr(receiver, "send"), (value,), {})
    except StopIteration as stop:
        stack[-1] = stop.value
        frame.ip = instr.arg
        return
    stack.append(result)


# ---------------------------------------------------------------- exceptions
@handler("PUSH_EXC_INFO")
def op_push_exc_info(interp, frame, instr):
    value = frame.stack.pop()
    frame.stack.append(interp.current_exc)
    frame.stack.append(value)
    interp.current_exc = value


@handler("POP_EXCEPT")
def op_pop_except(interp, frame, instr):
    interp.current_exc = frame.stack.pop()


@handler("CHECK_EXC_MATCH")
def op_check_exc_match(interp, frame, instr):
    match_type = frame.stack.pop()
    _check_except_type(match_type)
    frame.stack.append(isinstance(frame.stack[-1], match_type))


@handler("CHECK_EG_MATCH")
def op_check_eg_match(interp, frame, instr):
    stack = frame.stack
    match_type = stack.pop()
    exc = stack.pop()
    _check_except_type(match_type)
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(match_type)
    elif isinstance(exc, match_type):
        matched, rest = BaseExceptionGroup("", [exc]), None
    else:
        matched, rest = None, exc
    stack.append(rest)
    stack.append(matched)
    if matched is not None:
        interp.current_exc = matched


@handler("PREP_RERAISE_STAR")
def op_prep_reraise_star(interp, frame, instr):
    stack = frame.stack
    excs = stack.pop()
    orig = stack.pop()
    raised = [e for e in excs if e is not None]
    if not raised:
        stack.append(None)
    elif len(raised) == 1 and raised[0] is orig:
        stack.append(orig)
    else:
        stack.append(BaseExceptionGroup("", raised) if len(raised) > 1 else raised[0])


def _check_except_type(match_type):
    types_ = match_type if isinstance(match_type, tuple) else (match_type,)
    for t in types_:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise TypeError("catching classes that do not inherit from BaseException is not allowed")


@handler("RERAISE")
def op_reraise(interp, frame, instr):
    exc = frame.stack.pop()
    raise exc


@handler("RAISE_VARARGS")
def op_raise(interp, frame, instr):
    stack = frame.stack
    argc = instr.arg
    if argc == 0:
        if interp.current_exc is None:
            raise RuntimeError("No active exception to reraise")
        raise interp.current_exc
    cause = _MISSING
    if argc == 2:
        cause = stack.pop()
    exc = _instantiate(interp, stack.pop())
    if cause is not _MISSING:
        exc.__cause__ = None if cause is None else _instantiate(interp, cause)
        exc.__suppress_context__ = True
    if interp.current_exc is not None and interp.current_exc is not exc:
        exc.__context__ = interp.current_exc
    raise exc


def _instantiate(interp, value):
    if isinstance(value, type) and issubclass(value, BaseException):
        return interp.call(value, (), {})
    if not isinstance(value, BaseException):
        raise TypeError("exceptions must derive from BaseException")
    return value


@handler("LOAD_ASSERTION_ERROR")
def op_load_assertion_error(interp, frame, instr):
    frame.stack.append(AssertionError)


# ---------------------------------------------------------------- with
@handler("BEFORE_WITH")
def op_before_with(interp, frame, instr):
    manager = frame.stack.pop()
    tp = type(manager)
    enter = lookup_special(tp, "__enter__")
    exit_ = lookup_special(tp, "__exit__")
    if enter is _MISSING or exit_ is _MISSING:
        raise TypeError(f"'{tp.__name__}' object does not support the context manager protocol")
    frame.stack.append(types.MethodType(exit_, manager))
    frame.stack.append(interp.call_unbound(enter, manager, ()))


@handler("WITH_EXCEPT_START")
def op_with_except_start(interp, frame, instr):
    stack = frame.stack
    exc = stack[-1]
    exit_func = stack[-4]
    stack.append(interp.call(exit_func, (type(exc), exc, exc.__traceback__), {}))


for _name in ("GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "END_ASYNC_FOR", "BEFORE_ASYNC_WITH",
              "ASYNC_GEN_WRAP"):
    refused(_name, "coroutines and async code are not supported inside forward()")
refused("PRINT_EXPR", "interactive-mode expression printing has no place in a traced program")
refused("IMPORT_STAR", "`from module import *` in traced code would bind unknown names")
