"""Handlers for builtins that need the interpreter's view of values (proxies, frames)."""
from __future__ import annotations

import builtins
import sys
import types
from typing import Any

import torch

from ...errors import Category
from ...proxy import TensorProxy
from ...symbolic import SymValue
from ..registry import provides, special
from ..frame import UNBOUND
from ..calls.guard import VETTED, file_kind
from ..objects.protocols import (_MISSING, SAFE_TYPES, display_name, lookup_special, python_type, stands_for)

@special(builtins.isinstance)
def _isinstance(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return isinstance(*args, **kwargs)      # raises the builtin's argument error
    return instance_check(interp, args[0], args[1])


def instance_check(interp, obj: Any, cls: Any) -> bool:
    """PyObject_IsInstance: exact type, tuples/unions, the metaclass's __instancecheck__ (a
    Python one interpreted), else the type check with `obj.__class__` as a second chance."""
    pt = python_type(obj)
    if pt is cls:
        return True
    tc = type(cls)
    if tc is type:
        return _object_isinstance(interp, obj, pt, cls)
    if tc is types.UnionType:
        cls, tc = cls.__args__, tuple
    if tc is tuple:
        return any(instance_check(interp, obj, c) for c in cls)
    checker = lookup_special(tc, "__instancecheck__")
    if checker is _MISSING or checker is type.__dict__["__instancecheck__"]:
        return _object_isinstance(interp, obj, pt, cls)
    if type(checker) is types.FunctionType and file_kind(checker.__code__.co_filename) != VETTED:
        return interp.truth(interp.call_unbound(checker, cls, (obj,)))
    if pt is not type(obj):                  # a proxy: answer for the type it stands for
        return interp.guard.run_native(issubclass, pt, cls)
    return interp.guard.run_native(isinstance, obj, cls)


def _object_isinstance(interp, obj: Any, pt: type, cls: Any) -> bool:
    if not isinstance(cls, type):
        return interp.guard.run_native(isinstance, obj, cls)
    if issubclass(pt, cls):
        return True
    if pt is not type(obj):
        return False
    try:
        icls = interp.load_attr(obj, "__class__")
    except AttributeError:
        return False
    return icls is not pt and isinstance(icls, type) and issubclass(icls, cls)


@special(type.__dict__["__instancecheck__"])
def _type_instancecheck(interp, args, kwargs):
    """`super().__instancecheck__(obj)` in a metaclass (nn.Parameter's): the default check,
    answered for the type a proxy stands for."""
    if len(args) != 2 or kwargs or not isinstance(args[0], type):
        return type.__instancecheck__(*args, **kwargs)     # the descriptor's own error
    cls, obj = args
    return _object_isinstance(interp, obj, python_type(obj), cls)


@special(builtins.issubclass)
def _issubclass(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return issubclass(*args, **kwargs)
    derived, cls = args
    tc = type(cls)
    if tc is types.UnionType:
        cls, tc = cls.__args__, tuple
    if tc is tuple:
        return any(_issubclass(interp, (derived, c), {}) for c in cls)
    checker = lookup_special(tc, "__subclasscheck__")
    if type(checker) is types.FunctionType and file_kind(checker.__code__.co_filename) != VETTED:
        return interp.truth(interp.call_unbound(checker, cls, (derived,)))
    return interp.guard.run_native(issubclass, derived, cls)


@special(builtins.type)
def _type(interp, args, kwargs):
    if len(args) == 1 and not kwargs:
        return python_type(args[0])
    if len(args) == 3:
        from ..objects.classes import create_class
        return create_class(interp, type, args[0], args[1], args[2], kwargs)
    return type(*args, **kwargs)      # raises type()'s own argument error


@special(type.__dict__["__new__"])
def _type_new(interp, args, kwargs):
    if len(args) == 4 and isinstance(args[0], type) and issubclass(args[0], type):
        from ..objects.classes import create_class
        return create_class(interp, args[0], args[1], args[2], args[3], kwargs)
    return interp.guard.run_native(type.__new__, *args, **kwargs)


@special(builtins.len)
def _len(interp, args, kwargs):
    (obj,) = args
    return interp.length_of(obj)


@special(builtins.iter)
def _iter(interp, args, kwargs):
    if len(args) == 2:
        from ..objects.generators import CallableIterator
        return CallableIterator(interp, args[0], args[1])
    return interp.get_iter(args[0])


@special(builtins.next)
def _next(interp, args, kwargs):
    if len(args) == 2:
        try:
            return interp.next_item(args[0])
        except StopIteration:
            return args[1]
    return interp.next_item(args[0])


@special(builtins.getattr)
def _getattr(interp, args, kwargs):
    obj, name = args[0], args[1]
    if type(name) is not str:
        raise TypeError(f"attribute name must be string, not '{display_name(type(name))}'")
    if len(args) == 3:
        try:
            return interp.load_attr(obj, name)
        except AttributeError:
            return args[2]
    return interp.load_attr(obj, name)


@special(builtins.hasattr)
def _hasattr(interp, args, kwargs):
    obj, name = args
    try:
        interp.load_attr(obj, name)
    except AttributeError:
        return False
    return True


@special(builtins.setattr)
def _setattr(interp, args, kwargs):
    obj, name, value = args
    interp.store_attr(obj, name, value)


@special(builtins.delattr)
def _delattr(interp, args, kwargs):
    obj, name = args
    interp.delete_attr(obj, name)


@special(builtins.super)
def _super(interp, args, kwargs):
    return interp.make_super(args)


@special(builtins.id)
def _id(interp, args, kwargs):
    (obj,) = args
    if _holds_proxy(obj):
        raise interp.refuse(Category.UNSUPPORTED_NATIVE,
                            "id() of a tensor: its value differs between tracing and every run",
                            hint="do not use id() of tensors in forward(); key caches on something "
                                 "that does not change per call", operands=(obj,))
    return id(obj)


@special(builtins.hash)
def _hash(interp, args, kwargs):
    (obj,) = args
    t = type(obj)
    if t is TensorProxy:
        raise interp.refuse(Category.UNSUPPORTED_NATIVE,
                            "hash() of a tensor is its identity, which differs on every run",
                            hint="do not hash tensors in forward()", operands=(obj,))
    if t in SAFE_TYPES:
        return hash(obj)
    raw = lookup_special(t, "__hash__")
    if raw is None:
        raise TypeError(f"unhashable type: '{display_name(t)}'")
    if type(raw) is types.FunctionType:
        return interp.call_unbound(raw, obj, ())
    return hash(obj)


@special(builtins.print)
def _print(interp, args, kwargs):
    if kwargs.get("file") not in (None, sys.stdout):
        raise interp.refuse(Category.SIDE_EFFECT, "print() to a file writes outside the program",
                            hint="remove the print from forward()")
    if any(_holds_proxy(a) for a in args):
        raise interp.refuse(Category.DATA_DEPENDENT_VALUE,
                            "print() of a tensor needs its data, which does not exist while tracing",
                            hint="print shapes/dtypes (known at trace time) or remove the print",
                            operands=args)
    text = [interp.text.to_str(a) for a in args]
    print(*text, **{k: v for k, v in kwargs.items() if k in ("sep", "end", "flush")})


@special(builtins.repr)
def _repr(interp, args, kwargs):
    (obj,) = args
    return interp.text.to_repr(obj)


@special(builtins.str)
def _str(interp, args, kwargs):
    if len(args) == 1 and not kwargs:
        return interp.text.to_str(args[0])
    return str(*args, **kwargs)


@special(builtins.format)
def _format(interp, args, kwargs):
    return interp.text.format_value(*args)


@special(builtins.globals)
def _globals(interp, args, kwargs):
    return interp.frames[-1].globals


@special(builtins.locals, builtins.vars)
def _locals(interp, args, kwargs):
    if args:
        return interp.load_attr(args[0], "__dict__")
    frame = interp.frames[-1]
    names = frame.decoded.localsplus_names
    result = {}
    for index, name in enumerate(names):
        value = frame.localsplus[index]
        if index in frame.decoded.cell_indices and issubclass(type(value), types.CellType):
            try:
                value = value.cell_contents
            except ValueError:
                continue
        if value is not UNBOUND:
            result[name] = value
    return result


@special(builtins.dir)
def _dir(interp, args, kwargs):
    if not args:
        return sorted(_locals(interp, (), {}))
    (obj,) = args
    if type(obj) is TensorProxy:
        return dir(obj.py_type)
    raw = lookup_special(type(obj), "__dir__")
    if type(raw) is types.FunctionType:
        return sorted(interp.call_unbound(raw, obj, ()))
    return dir(obj)


@special(sys.exc_info)
def _exc_info(interp, args, kwargs):
    exc = interp.current_exc
    return (None, None, None) if exc is None else (type(exc), exc, interp.tracebacks.of(exc))


@special(sys.exception)
def _exception(interp, args, kwargs):
    """sys.exception() (3.13's contextlib.ExitStack calls it): the handled exception."""
    if args or kwargs:
        raise TypeError(f"sys.exception() takes no arguments ({len(args) + len(kwargs)} given)")
    return interp.current_exc


@special(builtins.callable)
def _callable(interp, args, kwargs):
    (obj,) = args
    if type(obj) is TensorProxy:
        return False
    return callable(obj)


def _holds_proxy(value: Any, depth: int = 0) -> bool:
    t = type(value)
    if t is TensorProxy:
        return True
    if depth < 3 and t in (list, tuple, dict, set):
        items = value.values() if t is dict else value
        return any(_holds_proxy(v, depth + 1) for v in items)
    return False



def _recorded_attribute_write(raw: Any):
    """object/type __setattr__/__delattr__ called directly: the undo log records the
    attribute first, then the native slot runs (its own errors for bad arguments)."""
    def handler(interp, args, kwargs):
        if len(args) >= 2 and isinstance(args[1], str):
            interp.record_attr(args[0], args[1])
        return raw(*args, **kwargs)
    return handler


for _raw in (object.__setattr__, object.__delattr__, type.__setattr__, type.__delattr__):
    special(_raw)(_recorded_attribute_write(_raw))


@special(type.__dict__["__call__"])
def _type_call(interp, args, kwargs):
    if not args or not isinstance(args[0], type):
        return type.__call__(*args, **kwargs)   # raises the descriptor's own error
    return interp.type_call(args[0], args[1:], kwargs)


@special(object.__getattribute__)
def _object_getattribute(interp, args, kwargs):
    obj, name = args
    return interp.object_getattribute(obj, name)


def _run_source(interp, source, globals_, locals_, mode: str):
    """exec()/eval(): compile natively (pure), then interpret the code object."""
    from ..frame import Frame, builtins_of
    frame = interp.frames[-1] if interp.frames else None
    if globals_ is None:
        globals_ = frame.globals if frame is not None else {}
        if locals_ is None and frame is not None:
            locals_ = _locals(interp, (), {})
    if locals_ is None:
        locals_ = globals_
    globals_.setdefault("__builtins__", builtins)
    code = source if issubclass(type(source), types.CodeType) else compile(source, "<string>", mode)
    run = Frame(None, code, globals_, builtins_of(globals_), [UNBOUND] * len(code.co_varnames))
    run.locals_dict = locals_
    return interp.run_frame(run)


@special(builtins.exec)
def _exec(interp, args, kwargs):
    source, globals_, locals_ = (list(args) + [None, None])[:3]
    _run_source(interp, source, kwargs.get("globals", globals_), kwargs.get("locals", locals_), "exec")


@special(builtins.eval)
def _eval(interp, args, kwargs):
    source, globals_, locals_ = (list(args) + [None, None])[:3]
    return _run_source(interp, source, kwargs.get("globals", globals_), kwargs.get("locals", locals_), "eval")


@stands_for(types.FrameType)
@provides("frame_view")
class FrameView:
    """What sys._getframe() (and a generator's gi_frame) gives for an interpreted frame: a
    frame object to the program, with the attributes code reads."""

    _strict_tracer_native = True

    def __init__(self, interp, frame) -> None:
        self._interp = interp
        self._frame = frame
        self.f_code = frame.code
        self.f_globals = frame.globals
        self.f_builtins = frame.builtins
        self.f_trace = None

    @property
    def f_lineno(self) -> int | None:
        return self._frame.lineno

    @property
    def f_lasti(self) -> int:
        return self._frame.current_instr.offset

    @property
    def f_locals(self) -> dict:
        saved = frames = self._interp.frames
        self._interp.frames = frames[:frames.index(self._frame) + 1] if self._frame in frames \
            else [*frames, self._frame]
        try:
            return _locals(self._interp, (), {})
        finally:
            self._interp.frames = saved

    @property
    def f_back(self):
        frames = self._interp.frames
        if self._frame not in frames:
            return None         # a suspended generator's frame has no caller
        index = frames.index(self._frame)
        return FrameView(self._interp, frames[index - 1]) if index > 0 else None

    def __repr__(self) -> str:
        return (f"<frame at {id(self):#x}, file '{self.f_code.co_filename}', line "
                f"{self.f_lineno}, code {self.f_code.co_name}>")


@special(sys._getframe)
def _getframe(interp, args, kwargs):
    depth = args[0] if args else 0
    if depth >= len(interp.frames):
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            "sys._getframe() reaches outside the traced program",
                            hint="do not inspect the caller's frames in forward()")
    return FrameView(interp, interp.frames[-1 - depth])


def _getframemodulename(interp, args, kwargs):
    """sys._getframemodulename(depth=0) (3.12+; namedtuple, enum and typing call it): the
    __module__ of the function the interpreted frame `depth` levels up runs."""
    depth = args[0] if args else kwargs.get("depth", 0)
    if depth >= len(interp.frames):
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            "sys._getframemodulename() reaches outside the traced program",
                            hint="do not inspect the caller's frames in forward()")
    function = interp.frames[-1 - depth].function
    return getattr(function, "__module__", None) if function is not None else None


if hasattr(sys, "_getframemodulename"):
    special(sys._getframemodulename)(_getframemodulename)
