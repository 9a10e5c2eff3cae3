"""Handlers: calls, attributes, subscripts, arithmetic."""
from __future__ import annotations

import types

from ..calls.classify import NATIVE_READ, PLAIN_METHOD_DECISIONS
from ..calls.guard import plain_read
from ..registry import SPECIAL, handler
from ..frame import NULL
from ..objects.protocols import BINARY_OPS, PLAIN_SCALARS


_BuiltinMethodType = types.BuiltinMethodType


@handler("KW_NAMES", until=(3, 12))
def op_kw_names(interp, frame, instr):
    frame.kwnames = instr.arg


@handler("CALL")
def op_call(interp, frame, instr):
    stack = frame.stack
    base = len(stack) - instr.arg
    # Below the arguments: NULL and the callable (3.11/3.12: NULL first; 3.13: NULL second),
    # or a method and its self.
    first, second = stack[base - 2], stack[base - 1]
    if first is NULL:
        fn, args = second, tuple(stack[base:])
    elif second is NULL:
        fn, args = first, tuple(stack[base:])
    else:
        fn, args = first, (second, *stack[base:])
    del stack[base - 2:]
    kwnames = frame.kwnames
    if kwnames:
        frame.kwnames = None
        nk = len(kwnames)
        stack.append(interp.call(fn, args[:-nk], dict(zip(kwnames, args[-nk:]))))
    elif type(fn) is _BuiltinMethodType and PLAIN_METHOD_DECISIONS.get(
            (type(owner := fn.__self__), fn.__name__)) is NATIVE_READ and fn not in SPECIAL \
            and plain_read(owner, args, None):
        stack.append(fn(*args))     # classify() is NATIVE_READ (`table.get(k)`), as call() does
    else:
        stack.append(interp.call(fn, args, {}))


@handler("CALL_FUNCTION_EX", until=(3, 12))
def op_call_function_ex(interp, frame, instr):
    stack = frame.stack
    kwargs = stack.pop() if instr.raw_arg & 1 else {}
    args = stack.pop()
    fn = stack.pop()
    if stack and stack[-1] is NULL:
        stack.pop()
    stack.append(call_ex(interp, fn, args, kwargs))


def call_ex(interp, fn, args, kwargs):
    """f(*args, **kwargs) as CALL_FUNCTION_EX makes it."""
    if type(args) is not tuple:
        if not (hasattr(type(args), "__iter__") or hasattr(type(args), "__getitem__")):
            # CPython's check_args_iterable, before any iteration
            raise TypeError(f"{_function_str(fn)} argument after * must be an iterable, "
                            f"not {type(args).__name__}")
        args = tuple(interp.iterate(args))
    if type(kwargs) is not dict:
        kwargs = dict(interp.mapping_items(kwargs))
    return interp.call(fn, args, kwargs)


def _function_str(fn) -> str:
    """CPython's _PyObject_FunctionStr: how call errors name the callee."""
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(qualname, str):
        return str(fn)
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and module != "builtins":
        return f"{module}.{qualname}()"
    return f"{qualname}()"


@handler("LOAD_ATTR:method", since=(3, 12), until=(3, 12))
@handler("LOAD_METHOD", until=(3, 11))
def op_load_method(interp, frame, instr):
    obj = frame.stack[-1]
    frame.stack[-1] = NULL
    frame.stack.append(interp.load_attr(obj, instr.arg))


@handler("LOAD_ATTR")
def op_load_attr(interp, frame, instr):
    frame.stack[-1] = interp.load_attr(frame.stack[-1], instr.arg)


@handler("STORE_ATTR")
def op_store_attr(interp, frame, instr):
    obj = frame.stack.pop()
    value = frame.stack.pop()
    interp.store_attr(obj, instr.arg, value)


@handler("DELETE_ATTR")
def op_delete_attr(interp, frame, instr):
    interp.delete_attr(frame.stack.pop(), instr.arg)


@handler("BINARY_SUBSCR")
def op_binary_subscr(interp, frame, instr):
    key = frame.stack.pop()
    frame.stack[-1] = interp.subscr(frame.stack[-1], key)


@handler("STORE_SUBSCR")
def op_store_subscr(interp, frame, instr):
    stack = frame.stack
    key = stack.pop()
    container = stack.pop()
    value = stack.pop()
    interp.store_subscr(container, key, value)


@handler("DELETE_SUBSCR")
def op_delete_subscr(interp, frame, instr):
    key = frame.stack.pop()
    container = frame.stack.pop()
    interp.delete_subscr(container, key)


@handler("BINARY_OP")
def op_binary_op(interp, frame, instr):
    stack = frame.stack
    b = stack.pop()
    a = stack[-1]
    if type(a) in PLAIN_SCALARS and type(b) in PLAIN_SCALARS:    # binary_op's first case
        stack[-1] = BINARY_OPS[instr.raw_arg][0](a, b)
    else:
        stack[-1] = interp.binary_op(instr.raw_arg, a, b)


@handler("UNARY_POSITIVE", until=(3, 11))
@handler("UNARY_NEGATIVE", "UNARY_INVERT")
def op_unary(interp, frame, instr):
    frame.stack[-1] = interp.unary(instr.opname, frame.stack[-1])
