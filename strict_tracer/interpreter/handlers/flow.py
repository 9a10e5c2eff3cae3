"""Handlers: jumps, comparisons, returns, iteration, exceptions, `with`, generators."""
from __future__ import annotations

import types

from ...proxy import TensorProxy
from ...symbolic import CheckFailed, SymBool
from ..registry import handler, refused
from ..objects.protocols import (_MISSING, COMPARE_OPS, PLAIN_SCALARS, PURE_ITERATORS, display_name,
                                 lookup_special)


# ---------------------------------------------------------------- jumps
@handler("JUMP_FORWARD")
def op_jump(interp, frame, instr):
    frame.ip = instr.arg


@handler("JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")
def op_jump_backward(interp, frame, instr):
    interp.count_step()
    frame.ip = instr.arg


@handler("POP_JUMP_IF_FALSE", since=(3, 12))
@handler("POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_FALSE", until=(3, 11))
def op_pop_jump_if_false(interp, frame, instr):
    value = frame.stack.pop()
    if not (value if type(value) is bool else interp.truth(value)):
        if instr.arg < frame.ip:
            interp.count_step()
        frame.ip = instr.arg


@handler("POP_JUMP_IF_TRUE", since=(3, 12))
@handler("POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_TRUE", until=(3, 11))
def op_pop_jump_if_true(interp, frame, instr):
    value = frame.stack.pop()
    if type(value) is bool:
        truth = value
    elif type(value) is SymBool and frame.instrs[frame.ip].opname == "LOAD_ASSERTION_ERROR":
        truth = asserted(value)
    else:
        truth = interp.truth(value)
    if truth:
        if instr.arg < frame.ip:
            interp.count_step()
        frame.ip = instr.arg


def asserted(cond: SymBool) -> bool:
    """`assert cond` on a symbolic condition, as torch.export treats it: torch._check(cond)
    (a guard when the condition is backed, a runtime assertion in the program when it depends
    on data); False (the assert raises) only when it is known to fail."""
    try:
        cond.env.check(cond.expr, cond.hint)
    except CheckFailed:
        return False
    return True


@handler("POP_JUMP_IF_NONE", since=(3, 12))
@handler("POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_BACKWARD_IF_NONE", until=(3, 11))
def op_pop_jump_if_none(interp, frame, instr):
    if frame.stack.pop() is None:
        if instr.arg < frame.ip:
            interp.count_step()
        frame.ip = instr.arg


@handler("POP_JUMP_IF_NOT_NONE", since=(3, 12))
@handler("POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_BACKWARD_IF_NOT_NONE", until=(3, 11))
def op_pop_jump_if_not_none(interp, frame, instr):
    if frame.stack.pop() is not None:
        if instr.arg < frame.ip:
            interp.count_step()
        frame.ip = instr.arg


@handler("JUMP_IF_FALSE_OR_POP", until=(3, 11))
def op_jump_if_false_or_pop(interp, frame, instr):
    value = frame.stack[-1]
    if not interp.truth(value):
        frame.ip = instr.arg
    else:
        frame.stack.pop()


@handler("JUMP_IF_TRUE_OR_POP", until=(3, 11))
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
    if type(a) in PLAIN_SCALARS and type(b) in PLAIN_SCALARS:    # compare's first case
        stack[-1] = COMPARE_OPS[instr.arg][0](a, b)
    else:
        stack[-1] = interp.compare(instr.arg, a, b)


@handler("COMPARE_OP:bool", since=(3, 13))
def op_compare_bool(interp, frame, instr):
    """3.13: a comparison feeding a conditional jump converts its result with bool()."""
    stack = frame.stack
    b = stack.pop()
    stack[-1] = result = interp.compare(instr.arg, stack[-1], b)
    if type(result) is not bool:
        stack[-1] = jump_truth(interp, frame, result)   # a refusal shows the result on the stack


def jump_truth(interp, frame, value) -> bool:
    """3.13 converts a condition to bool before its jump: an `assert` (the jump skips a
    LOAD_ASSERTION_ERROR) is decided as `asserted`, anything else by `interp.truth`."""
    instrs, ip = frame.instrs, frame.ip
    if type(value) is SymBool and ip + 1 < len(instrs) and instrs[ip].opname == "POP_JUMP_IF_TRUE" \
            and instrs[ip + 1].opname == "LOAD_ASSERTION_ERROR":
        return asserted(value)
    return interp.truth(value)


@handler("IS_OP")
def op_is(interp, frame, instr):
    stack = frame.stack
    b = stack.pop()
    a = stack[-1]
    same = a is b
    if not same and (type(a) is TensorProxy or type(b) is TensorProxy):
        same = interp.same_tensor(a, b)     # a module tensor and its lifted proxy
    stack[-1] = same != bool(instr.raw_arg)


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
    """An exhausted iterator is popped and the loop left (decode.py resolves 3.12's and 3.13's
    target past END_FOR, as their FOR_ITER jumps)."""
    stack = frame.stack
    it = stack[-1]
    if type(it) in PURE_ITERATORS:      # next_item's first case, without the StopIteration
        value = next(it, _EXHAUSTED)
        if value is not _EXHAUSTED:
            stack.append(value)
            return
    else:
        try:
            stack.append(interp.next_item(it))
            return
        except StopIteration:
            pass
    stack.pop()
    frame.ip = instr.arg


_EXHAUSTED = object()


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
    from ..objects.generators import InterpretedGenerator
    value = frame.stack[-1]
    if type(value) is not InterpretedGenerator:
        frame.stack[-1] = interp.get_iter(value)


def send_step(interp, receiver, value) -> tuple[bool, object]:
    """One step of `yield from`: (False, the sub-iterator's next value) or, when it finished,
    (True, its return value)."""
    from ..objects.generators import InterpretedGenerator
    try:
        if value is None:
            return False, interp.next_item(receiver)
        if type(receiver) is InterpretedGenerator:
            return False, receiver.send(value)
        return False, interp.call(interp.load_attr(receiver, "send"), (value,), {})
    except StopIteration as stop:
        return True, stop.value


@handler("SEND", until=(3, 11))
def op_send(interp, frame, instr):
    """receiver, value -> receiver, result; a finished sub-iterator replaces the receiver by
    its return value and jumps."""
    stack = frame.stack
    value = stack.pop()
    done, result = send_step(interp, stack[-1], value)
    if done:
        stack[-1] = result
        frame.ip = instr.arg
    else:
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
    frame.stack.append(issubclass(type(frame.stack[-1]), match_type))


@handler("CHECK_EG_MATCH")
def op_check_eg_match(interp, frame, instr):
    stack = frame.stack
    match_type = stack.pop()
    _check_except_type(match_type, star=True)
    exc = stack[-1]
    if exc is None:
        stack.append(None)
        return
    if issubclass(type(exc), match_type):
        if issubclass(type(exc), BaseExceptionGroup):
            matched = exc
        else:
            matched = BaseExceptionGroup("", [exc])   # a naked exception is wrapped
            matched.__traceback__ = exc.__traceback__
        rest = None
    elif issubclass(type(exc), BaseExceptionGroup):
        matched, rest = exc.split(match_type)
    else:
        matched = rest = None
    if matched is None:
        stack.append(None)
        return
    stack[-1] = rest
    stack.append(matched)
    interp.current_exc = matched


@handler("PREP_RERAISE_STAR", until=(3, 11))
def op_prep_reraise_star(interp, frame, instr):
    excs = frame.stack.pop()
    orig = frame.stack.pop()
    frame.stack.append(prep_reraise_star(orig, excs))


def prep_reraise_star(orig: BaseException, excs: list) -> BaseException | None:
    """_PyExc_PrepReraiseStar: what an except* statement raises at its end. Exceptions the
    clauses re-raised keep their place in the original group; new ones are grouped with it."""
    excs = [e for e in excs if e is not None]
    if not excs:
        return None
    if not issubclass(type(orig), BaseExceptionGroup):
        return excs[0]   # a naked exception was wrapped: at most one clause ran
    raised, reraised = [], []
    for e in excs:
        (reraised if _same_metadata(e, orig) else raised).append(e)
    reraised_eg = _project(orig, reraised)
    if not raised:
        return reraised_eg
    if reraised_eg is not None:
        raised.append(reraised_eg)
    return BaseExceptionGroup("", raised) if len(raised) > 1 else raised[0]


def _same_metadata(e: BaseException, orig: BaseException) -> bool:
    # CPython also compares __traceback__; ours run through interpreter frames, so skip it.
    return (getattr(e, "__notes__", None) is getattr(orig, "__notes__", None)
            and e.__cause__ is orig.__cause__ and e.__context__ is orig.__context__)


def _leaf_ids(exc: BaseException, into: set) -> None:
    if issubclass(type(exc), BaseExceptionGroup):
        for e in exc.exceptions:
            _leaf_ids(e, into)
    else:
        into.add(id(exc))


def _project(orig: BaseExceptionGroup, keep: list) -> BaseException | None:
    if not keep:
        return None
    ids: set = set()
    for e in keep:
        _leaf_ids(e, ids)
    matched, _ = orig.split(lambda leaf: id(leaf) in ids)
    return matched


def _check_except_type(match_type, star: bool = False):
    types_ = match_type if issubclass(type(match_type), tuple) else (match_type,)
    for t in types_:
        if not (issubclass(type(t), type) and issubclass(t, BaseException)):
            raise TypeError("catching classes that do not inherit from BaseException is not allowed")
        if star and issubclass(t, BaseExceptionGroup):
            raise TypeError("catching ExceptionGroup with except* is not allowed. Use except "
                            "instead.")


@handler("RERAISE")
def op_reraise(interp, frame, instr):
    exc = frame.stack.pop()
    interp.propagating = exc       # a re-raise: no new implicit chaining
    interp.tracebacks.reraising = exc       # and no new traceback entry
    raise exc


@handler("RAISE_VARARGS")
def op_raise(interp, frame, instr):
    stack = frame.stack
    argc = instr.arg
    if argc == 0:
        if interp.current_exc is None:
            raise RuntimeError("No active exception to reraise")
        interp.propagating = interp.tracebacks.reraising = interp.current_exc
        raise interp.current_exc
    cause = _MISSING
    if argc == 2:
        cause = stack.pop()
    exc = _instantiate(interp, stack.pop())
    if cause is not _MISSING:
        if cause is None:
            exc.__cause__ = None
        elif issubclass(type(cause), type) and issubclass(cause, BaseException):
            exc.__cause__ = _instantiate(interp, cause)
        elif issubclass(type(cause), BaseException):
            exc.__cause__ = cause
        else:
            raise TypeError("exception causes must derive from BaseException")
        exc.__suppress_context__ = True
    raise exc


def _instantiate(interp, value):
    if issubclass(type(value), type) and issubclass(value, BaseException):
        exc = interp.call(value, (), {})
        if not issubclass(type(exc), BaseException):
            raise TypeError(f"calling {value!r} should have returned an instance of BaseException, "
                            f"not {type(exc).__name__}")
        return exc
    if not issubclass(type(value), BaseException):
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
    if enter is _MISSING:
        raise TypeError(f"'{display_name(tp)}' object does not support the context manager protocol")
    if exit_ is _MISSING:
        raise TypeError(f"'{display_name(tp)}' object does not support the context manager protocol "
                        "(missed __exit__ method)")
    frame.stack.append(interp.bind_descriptor(exit_, manager, tp))
    frame.stack.append(interp.call_unbound(enter, manager, ()))


@handler("WITH_EXCEPT_START")
def op_with_except_start(interp, frame, instr):
    stack = frame.stack
    exc = stack[-1]
    exit_func = stack[-4]
    stack.append(interp.call(exit_func, (type(exc), exc, interp.tracebacks.of(exc)), {}))


ASYNC_REFUSAL = "coroutines and async code are not supported inside forward()"
PRINT_REFUSAL = "interactive-mode expression printing has no place in a traced program"
IMPORT_STAR_REFUSAL = "`from module import *` in traced code would bind unknown names"
for _name in ("GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "END_ASYNC_FOR", "BEFORE_ASYNC_WITH"):
    refused(_name, ASYNC_REFUSAL)
refused("ASYNC_GEN_WRAP", ASYNC_REFUSAL, until=(3, 11))
refused("PRINT_EXPR", PRINT_REFUSAL, until=(3, 11))
refused("IMPORT_STAR", IMPORT_STAR_REFUSAL, until=(3, 11))
