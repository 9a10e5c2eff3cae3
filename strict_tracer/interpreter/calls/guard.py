"""The native-call guard: native code never runs Python code the interpreter should run.

A native callable that receives user objects may call their Python methods (`__eq__`,
`__hash__`, `__iter__`, a key function, ...). CPython would then run those frames itself,
outside the interpreter: proxies would reach torch natively and writes would escape the
sandbox. So every native the interpreter calls on the program's behalf runs under a profile
hook; a Python frame started *directly by that native* whose code is not trusted is stopped
before its first instruction and the call is refused.

Trusted code: strict_tracer's own files (its re-entry adapters, proxies, symbolic values) and
a few vetted stdlib modules whose Python methods natives legitimately run (ABC subclass
hooks, Enum hashing, typing aliases). Natives that must call user code get adapters from
`polyfills.py` instead (interpreted callables, iterables, sort keys).
"""
from __future__ import annotations

import gc
import os
import sys
import types
from typing import Any, Callable

# Stdlib modules whose Python code natives may run (pure class-level machinery).
VETTED_CALLBACK_MODULES = ("abc", "_collections_abc", "enum", "typing", "typing_extensions",
                           "_weakrefset", "types", "inspect", "dataclasses", "os", "posixpath",
                           "genericpath")


class _NativeCallbackStopped(BaseException):
    """Raised by the hook inside native code; never seen by the traced program."""


def _call_guarded(fn: Callable, args: tuple, kwargs: dict) -> Any:
    # A Python frame whose caller is this frame was started by `fn` itself (natives add no
    # frames): that is what the hook checks.
    return fn(*args, **kwargs)


_GUARDED_CODE = _call_guarded.__code__
OTHER, OWN, VETTED = 0, 1, 2
_kind_cache: dict[str, int] = {}
_roots: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def _root_paths() -> tuple[tuple[str, ...], tuple[str, ...]]:
    global _roots
    if _roots is None:
        from strict_tracer import context, ops, symbolic
        own = tuple(os.path.dirname(m.__file__) + os.sep for m in (context, ops, symbolic))
        vetted = tuple(getattr(sys.modules.get(name), "__file__", None) or f"<frozen {name}>"
                       for name in VETTED_CALLBACK_MODULES) + tuple(
            f"<frozen {name}>" for name in VETTED_CALLBACK_MODULES)
        _roots = (own, vetted)
    return _roots


def file_kind(filename: str) -> int:
    """OWN (strict_tracer's code), VETTED (stdlib code natives may run) or OTHER."""
    kind = _kind_cache.get(filename)
    if kind is None:
        own, vetted = _root_paths()
        kind = OWN if filename.startswith(own) else VETTED if filename in vetted else OTHER
        _kind_cache[filename] = kind
    return kind


_vetted_code: set[types.CodeType] | None = None


def _vetted_code_objects() -> set[types.CodeType]:
    """Single vetted functions of otherwise unvetted files: torch.Tensor.__hash__ is id(self)
    (so real tensors can be set members and dict keys, as in Module._named_members)."""
    global _vetted_code
    if _vetted_code is None:
        import torch
        _vetted_code = {torch.Tensor.__hash__.__code__}
    return _vetted_code


def code_kind(code: types.CodeType) -> int:
    """file_kind, plus single vetted functions and the methods dataclasses generates
    (__eq__, __hash__, ... made by exec in dataclasses._create_fn): natives may run them."""
    kind = file_kind(code.co_filename)
    if kind == OTHER and code in _vetted_code_objects():
        return VETTED
    if kind == OTHER and code.co_filename == "<string>" \
            and code.co_qualname.startswith("__create_fn__.<locals>."):
        return VETTED
    return kind


# Code run by the garbage collector (gc.callbacks, finalizers) is not started by the native
# that happened to allocate when a collection began; the guard lets it run.
_collecting = False


def _gc_phase(phase: str, info: dict) -> None:
    global _collecting
    _collecting = phase == "start"


gc.callbacks.insert(0, _gc_phase)


def _run_by_gc(code: types.CodeType) -> bool:
    return _collecting or any(getattr(cb, "__code__", None) is code for cb in gc.callbacks)


# ---------------------------------------------------------------- natives that run no Python
# The hook costs a sys.setprofile pair per call (about 25 us on 3.12+, where it instruments
# every code object). A native of a builtin type called on plain values (exact ints, floats,
# strings, ... and small containers of them) can only run those types' C slots: no Python
# frame can start, so there is nothing for the hook to observe and it is skipped.
_PLAIN_ATOMS = frozenset({int, float, bool, str, bytes, complex, type(None)})
_PLAIN_CONTAINERS = frozenset({tuple, list, dict, set, frozenset})
_PLAIN_TYPES = _PLAIN_ATOMS | _PLAIN_CONTAINERS | {range, slice}
_PLAIN_BUILTINS = frozenset({len, abs, round, divmod, pow, hash, repr, ascii, format, chr, ord,
                             hex, oct, bin, callable, isinstance, issubclass})
_PLAIN_MODULES = frozenset({"math", "_operator", "cmath"})
_MAX_PLAIN_ITEMS = 32


def _plain(value: Any, depth: int = 0) -> bool:
    tp = type(value)
    if tp in _PLAIN_ATOMS or tp is type and value in _PLAIN_TYPES:
        return True
    if tp not in _PLAIN_CONTAINERS or depth > 2 or len(value) > _MAX_PLAIN_ITEMS:
        return tp in (range, slice) and _plain((value.start, value.stop, value.step), depth + 1)
    atoms = _PLAIN_ATOMS
    if tp is dict:
        for key, item in value.items():
            if type(key) not in atoms and not _plain(key, depth + 1) or \
                    type(item) not in atoms and not _plain(item, depth + 1):
                return False
        return True
    for item in value:
        if type(item) not in atoms and not _plain(item, depth + 1):
            return False
    return True


def runs_no_python(fn: Any, args: tuple, kwargs: dict) -> bool:
    """`fn(*args, **kwargs)` cannot start a Python frame: a builtin of a plain type (bound
    to a plain value, or unbound), a vetted builtin function, or a plain type itself, with
    only plain arguments."""
    tp = type(fn)
    if tp is types.BuiltinFunctionType:     # builtin functions and methods of C objects
        owner = fn.__self__
        if type(owner) is types.ModuleType:
            ok = fn in _PLAIN_BUILTINS or owner.__name__ in _PLAIN_MODULES
        else:
            ok = type(owner) in _PLAIN_TYPES and _plain(owner)
    elif tp is types.MethodWrapperType:
        ok = type(fn.__self__) in _PLAIN_TYPES and _plain(fn.__self__)
    elif tp is types.MethodDescriptorType or tp is types.WrapperDescriptorType:
        ok = fn.__objclass__ in _PLAIN_TYPES
    else:
        ok = tp is type and fn in _PLAIN_TYPES
    return ok and plain_arguments(args, kwargs)


def plain_arguments(args: tuple, kwargs: dict) -> bool:
    """Every argument is a plain value (runs_no_python's test of the arguments)."""
    for value in args:
        if type(value) not in _PLAIN_ATOMS and not _plain(value):
            return False
    return not kwargs or all(_plain(v) for v in kwargs.values())


def plain_read(owner: Any, args: tuple, kwargs: dict) -> bool:
    """runs_no_python() of a builtin method bound to `owner`, an exact value of a plain type
    (plain_arguments inlined: this runs on every `table.get(key)`)."""
    atoms = _PLAIN_ATOMS
    if type(owner) is dict and len(owner) <= _MAX_PLAIN_ITEMS:
        for key, item in owner.items():     # _plain(owner) for a dict of atoms, without a call
            if type(key) not in atoms or type(item) not in atoms:
                if not _plain(owner):
                    return False
                break
    elif type(owner) not in atoms and not _plain(owner):
        return False
    for value in args:
        if type(value) not in atoms and not _plain(value):
            return False
    return not kwargs or all(_plain(v) for v in kwargs.values())


class NativeGuard:
    """Runs natives for real under the guard: the Interpreter's collaborator (interp.guard).
    It needs only `refuse`, the Interpreter's builder of located refusals."""

    __slots__ = ("_refuse", "_violation", "_hook")

    def __init__(self, refuse: Callable[..., BaseException]) -> None:
        self._refuse = refuse
        self._violation: types.CodeType | None = None
        self._hook: Callable | None = None

    def _make_hook(self) -> Callable:
        def hook(frame, event, arg):
            if event != "call":
                return
            code = frame.f_code
            if code_kind(code) != OTHER or code.co_name == "__del__":
                return    # (finalizers run wherever the last reference drops, natively anyway)
            back = frame.f_back
            # Started by the native itself, or by vetted code the native ran.
            if back is not None and (back.f_code is _GUARDED_CODE
                                     or code_kind(back.f_code) == VETTED) and not _run_by_gc(code):
                self._violation = code
                raise _NativeCallbackStopped()
        hook._strict_tracer_guard = True
        return hook

    def run_native(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call native `fn` for real, refusing if it tries to run untrusted Python code."""
        ran, result = self.try_native(fn, args, kwargs)
        if not ran:
            raise self._refuse_callback(fn, result)
        return result

    def try_native(self, fn: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any]:
        """(True, result) of calling `fn` natively, or (False, the code object it tried to
        start outside the interpreter) when the guard stopped it. Its exceptions propagate."""
        if runs_no_python(fn, args, kwargs):
            return True, fn(*args, **kwargs)
        hook = self._hook
        if hook is None:
            hook = self._hook = self._make_hook()
        saved_hook = sys.getprofile()
        if saved_hook is not None and not getattr(saved_hook, "_strict_tracer_guard", False):
            # A profiler (cProfile, ...) owns the hook: it cannot be restored through
            # sys.setprofile, so natives run unguarded while one is active.
            return True, fn(*args, **kwargs)
        outer_violation = self._violation
        self._violation = None
        # The garbage collector's callbacks must not look like the native's own calls.
        gc_enabled = gc.isenabled()
        outcome: BaseException | None = None
        result = None
        try:
            if gc_enabled:
                gc.disable()
            sys.setprofile(hook)
            result = _call_guarded(fn, args, kwargs)
        except BaseException as exc:  # noqa: BLE001 - sorted out below, after the restore
            outcome = exc
        while True:     # put the hook and gc back, even when an interrupt arrives meanwhile
            try:
                sys.setprofile(saved_hook)
                if gc_enabled:
                    gc.enable()
                break
            except BaseException as exc:  # noqa: BLE001
                outcome = exc
        violation, self._violation = self._violation, outer_violation
        if issubclass(type(outcome), KeyboardInterrupt):
            raise outcome
        if violation is not None:      # stopped, or the native swallowed the stop
            return False, violation
        if outcome is not None:
            raise outcome
        return True, result

    def _refuse_callback(self, fn: Callable, code: types.CodeType):
        from ...errors import Category
        from ..objects.protocols import qualified_name
        name = qualified_name(fn)
        where = f"{code.co_qualname} ({code.co_filename}:{code.co_firstlineno})"
        return self._refuse(
            Category.UNSUPPORTED_NATIVE,
            f"native {name} would run the Python code {where} itself, outside the interpreter",
            hint=f"strict_tracer has no polyfill for {name} with these arguments: pass it plain "
                 "values (no objects with Python methods), or write the operation in Python")
