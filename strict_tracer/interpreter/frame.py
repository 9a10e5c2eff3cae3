"""Frames of interpreted code and CPython-compatible argument binding."""
from __future__ import annotations

import inspect
import types
from typing import Any

from .decode import DecodedCode, decode


class _Null:
    """The NULL that 3.11 pushes below callables (PUSH_NULL, LOAD_GLOBAL with the low bit)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


class _Unbound:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unbound>"


UNBOUND = _Unbound()

_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
_CO_GENERATOR = inspect.CO_GENERATOR
_CO_COROUTINE = inspect.CO_COROUTINE
_CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
_CO_ITERABLE_COROUTINE = inspect.CO_ITERABLE_COROUTINE


class Frame:
    """An interpreted frame: code, instruction pointer, value stack, localsplus, globals."""

    __slots__ = ("decoded", "instrs", "code", "ip", "stack", "localsplus", "globals", "builtins",
                 "kwnames", "function", "retval", "yielded", "locals_dict", "__weakref__")

    def __init__(self, function: types.FunctionType | None, code: types.CodeType,
                 globals_: dict, builtins: dict, localsplus: list):
        self.decoded: DecodedCode = decode(code)
        self.instrs = self.decoded.instrs
        self.code = code
        self.ip = 0
        self.stack: list[Any] = []
        self.localsplus = localsplus
        self.globals = globals_
        self.builtins = builtins
        self.kwnames: tuple[str, ...] | None = None
        self.function = function
        self.retval: Any = None
        self.yielded = False
        self.locals_dict: dict | None = None      # class bodies: the namespace for *_NAME ops

    @property
    def current_instr(self):
        return self.instrs[self.ip - 1] if self.ip > 0 else self.instrs[0]

    @property
    def lineno(self) -> int | None:
        """The line of the instruction running (or last run): decode.DecodedCode.line_table."""
        lines = self.decoded.lines
        return (lines if lines is not None else self.decoded.line_table())[self.ip]


def load_global(frame: Frame, name: str) -> Any:
    """LOAD_GLOBAL / LOAD_NAME's global part: the frame's globals, then its builtins."""
    try:
        return frame.globals[name]
    except KeyError:
        pass
    try:
        return frame.builtins[name]
    except KeyError:
        raise NameError(f"name '{name}' is not defined") from None


def builtins_of(globals_: dict) -> dict:
    b = globals_.get("__builtins__", __builtins__)
    return b if isinstance(b, dict) else b.__dict__


def is_generator_code(code: types.CodeType) -> bool:
    return bool(code.co_flags & _CO_GENERATOR)


def is_async_code(code: types.CodeType) -> bool:
    return bool(code.co_flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR | _CO_ITERABLE_COROUTINE))


def make_frame(func: types.FunctionType, args: tuple, kwargs: dict) -> Frame:
    """Create the frame for calling `func(*args, **kwargs)`, binding arguments like CPython."""
    code = func.__code__
    localsplus = bind_arguments(func, code, args, kwargs)
    globals_ = func.__globals__
    return Frame(func, code, globals_, builtins_of(globals_), localsplus)


def bind_arguments(func: types.FunctionType, code: types.CodeType, args: tuple, kwargs: dict) -> list:
    nlocals = decode(code).nlocalsplus
    slots: list[Any] = [UNBOUND] * nlocals
    argcount = code.co_argcount
    posonly = code.co_posonlyargcount
    kwonly = code.co_kwonlyargcount
    flags = code.co_flags
    varnames = code.co_varnames
    name = func.__qualname__
    nargs = len(args)

    n_direct = min(nargs, argcount)
    for i in range(n_direct):
        slots[i] = args[i]
    index = argcount + kwonly
    if flags & _CO_VARARGS:
        slots[index] = tuple(args[argcount:])
        index += 1
    elif nargs > argcount:
        defaults = func.__defaults__ or ()
        lo = argcount - len(defaults)
        expected = f"from {lo} to {argcount}" if defaults else f"{argcount}"
        plural = "s" if argcount != 1 else ""
        raise TypeError(f"{name}() takes {expected} positional argument{plural} but {nargs} "
                        f"{'was' if nargs == 1 else 'were'} given")
    extra = None
    if flags & _CO_VARKEYWORDS:
        extra = {}
        slots[index] = extra

    if kwargs:
        _bind_keywords(slots, kwargs, extra, varnames, posonly, argcount + kwonly, name)
    if nargs < argcount:
        defaults = func.__defaults__ or ()
        first_default = argcount - len(defaults)
        missing = []
        for i in range(nargs, argcount):
            if slots[i] is UNBOUND:
                if i >= first_default:
                    slots[i] = defaults[i - first_default]
                else:
                    missing.append(varnames[i])
        if missing:
            raise TypeError(_missing_message(name, missing, "positional"))
    if kwonly:
        _fill_keyword_only(slots, func, varnames, argcount, kwonly, name)
    # Cells for captured arguments are made by MAKE_CELL, free variables are copied from the
    # closure by COPY_FREE_VARS: both run as the frame's first instructions.
    return slots


def _bind_keywords(slots: list, kwargs: dict, extra: dict | None, varnames: tuple,
                   posonly: int, end: int, name: str) -> None:
    """Keyword arguments into their slots (names after the positional-only ones, before
    `end`), the others into **kwargs (`extra`), as CPython binds them."""
    for key, value in kwargs.items():
        try:
            pos = varnames.index(key, posonly, end)
        except ValueError:
            pos = -1
        if pos < 0:
            if extra is None:
                if key in varnames[:posonly]:
                    raise TypeError(f"{name}() got some positional-only arguments passed as "
                                    f"keyword arguments: '{key}'")
                raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
            extra[key] = value
            continue
        if slots[pos] is not UNBOUND:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        slots[pos] = value


def _fill_keyword_only(slots: list, func: types.FunctionType, varnames: tuple, argcount: int,
                       kwonly: int, name: str) -> None:
    """Keyword-only parameters left unbound take their defaults; none left: TypeError."""
    kwdefaults = func.__kwdefaults__ or {}
    missing = []
    for i in range(argcount, argcount + kwonly):
        if slots[i] is UNBOUND:
            key = varnames[i]
            if key in kwdefaults:
                slots[i] = kwdefaults[key]
            else:
                missing.append(key)
    if missing:
        raise TypeError(_missing_message(name, missing, "keyword-only"))


def _missing_message(name: str, missing: list[str], kind: str) -> str:
    quoted = [f"'{m}'" for m in missing]
    if len(quoted) == 1:
        listed = quoted[0]
    elif len(quoted) == 2:
        listed = f"{quoted[0]} and {quoted[1]}"
    else:   # CPython's format_missing: a serial comma from three names on
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    plural = "s" if len(missing) > 1 else ""
    return f"{name}() missing {len(missing)} required {kind} argument{plural}: {listed}"
