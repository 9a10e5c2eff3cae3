"""Which native callables may run for real, and which get a handler of their own.

Policy (DESIGN.md "Calls"): natives that are pure functions of their arguments run natively;
natives that need the interpreter's view of the world (isinstance on proxies, len, getattr,
super, grad mode, ...) have a handler here; everything else is refused.
"""
from __future__ import annotations

import _thread
import _tokenize
import bisect
import builtins
import collections
import contextvars
import functools
import heapq
import itertools
import operator
import os
import sys
import types
from typing import Any

import torch

from ...errors import Category



# Modules whose native functions are pure (no I/O, no global state, no callbacks into C that
# could run user code other than the arguments' own dunders).
PURE_NATIVE_MODULES = frozenset({
    "builtins", "math", "cmath", "operator", "_operator", "itertools", "functools", "_functools",
    "collections", "_collections", "heapq", "_heapq", "bisect", "_bisect", "string", "_string",
    "re", "_sre", "copy", "_abc", "abc", "keyword", "unicodedata", "_weakref", "weakref",
    "_warnings", "warnings", "enum", "typing", "_typing", "numbers", "_struct", "struct",
    "_json", "binascii", "zlib", "_locale",
})

# Builtins that are impure or need the interpreter; they never run natively on their own.
IMPURE_BUILTINS = frozenset({
    "open", "input", "exec", "eval", "breakpoint", "exit", "quit", "help",
    "memoryview", "globals", "locals", "vars", "dir", "id", "print", "hash", "setattr",
    "delattr", "getattr", "hasattr", "super", "isinstance", "type", "len",
    "iter", "next", "__build_class__", "aiter", "anext",
})

# Native iterator types: their __iter__/__next__ run only C code (arguments that could call
# back into Python are wrapped when the iterator is built).
ITERATOR_TYPES = frozenset({
    enumerate, zip, map, filter, reversed, type(iter([])), type(iter(())), type(iter({})),
    type(iter({}.values())), type(iter({}.items())), type(iter(range(0))), type(iter(set())),
    type(iter("")), type(iter(b"")), type(iter(bytearray())), type(reversed([])),
    type(iter(lambda: 0, 1)), type(iter(collections.deque())), type(reversed({})),
    type(iter(range(1 << 70))),
    itertools.chain, itertools.count, itertools.repeat, itertools.product,
    itertools.permutations, itertools.combinations, itertools.islice, itertools.zip_longest,
    itertools.accumulate, itertools.starmap, itertools.takewhile, itertools.dropwhile,
    itertools.groupby, itertools.filterfalse, itertools.compress, itertools.pairwise,
    itertools.combinations_with_replacement, type(itertools.tee([])[0]), itertools.cycle,
    _tokenize.TokenizerIter,     # the C tokenizer (3.12's tokenize, inspect.signature)
})

# Builtin types whose instance methods are pure (mutating ones are logged first).
PURE_METHOD_TYPES = (
    str, bytes, int, float, complex, bool, tuple, list, dict, set, frozenset, bytearray,
    range, slice, type(None), collections.deque, collections.OrderedDict,
    collections.defaultdict, collections.Counter, torch.Size, torch.dtype, torch.device,
    type(Ellipsis), types.MappingProxyType, type({}.keys()), type({}.values()),
    type({}.items()), BaseException, functools.partial, property, staticmethod, classmethod,
    _thread.RLock, _thread.LockType,
    *ITERATOR_TYPES,
)

# Methods of `object` and `type` that only read (the writers have handlers of their own).
PURE_OBJECT_METHODS = frozenset({
    "__new__", "__init__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__hash__", "__sizeof__", "__init_subclass__", "__subclasshook__", "__reduce__",
    "__reduce_ex__", "__dir__", "__instancecheck__", "__subclasscheck__", "mro", "__subclasses__",
    "__prepare__",
})

MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__",
    "__delitem__", "__iadd__", "__imul__", "update", "setdefault", "popitem", "add", "discard",
    "difference_update", "intersection_update", "symmetric_difference_update", "appendleft",
    "extendleft", "popleft", "rotate", "move_to_end", "__ior__", "__iand__", "__isub__",
    "__ixor__", "subtract",
})

# Native constructors that run natively (they cannot call back into Python other than the
# arguments' dunders, which are themselves interpreted or routed).
NATIVE_CONSTRUCTORS = frozenset({
    int, float, bool, str, bytes, complex, tuple, list, dict, set, frozenset, bytearray, range,
    slice, object, zip, enumerate, reversed, map, filter, property, staticmethod, classmethod,
    functools.partial, collections.OrderedDict, collections.defaultdict, collections.deque,
    torch.Size, torch.device, torch.finfo, torch.iinfo, type, super, itertools.chain, _thread.RLock, _thread.allocate_lock,
    itertools.count, itertools.repeat, itertools.product, itertools.permutations,
    itertools.combinations, itertools.islice, itertools.zip_longest, itertools.accumulate,
    itertools.starmap, itertools.takewhile, itertools.dropwhile, itertools.groupby,
    itertools.filterfalse, itertools.compress, itertools.tee, itertools.pairwise,
    itertools.combinations_with_replacement, functools.cmp_to_key, types.SimpleNamespace,
    types.MappingProxyType, contextvars.ContextVar, types.MethodType, types.FunctionType,
    types.CellType, types.GenericAlias, _tokenize.TokenizerIter,
})

# Module-level natives that mutate an argument in place: function -> argument position.
MUTATING_FUNCTIONS: dict[Any, int] = {
    heapq.heappush: 0, heapq.heappop: 0, heapq.heapify: 0, heapq.heapreplace: 0,
    heapq.heappushpop: 0, bisect.insort_left: 0, bisect.insort_right: 0, bisect.insort: 0,
}

# Natives known to touch the outside world, by module: (what it does, how to fix it).
_OUTSIDE_WORLD = {
    "random": ("it draws from Python's global random state: the value would be frozen into the "
               "graph and the state advanced", "use torch.rand/torch.randn/torch.randint (recorded "
               "in the graph), or draw the value outside forward() and pass it in"),
    "time": ("it reads the clock: the value would be frozen into the graph",
             "measure or read time outside forward()"),
    "datetime": ("it reads the clock: the value would be frozen into the graph",
                 "read the date outside forward() and pass it in"),
    "os": ("it touches files, the process or its environment", "do this outside forward()"),
    "io": ("it reads or writes files or streams", "do I/O outside forward()"),
    "socket": ("it uses the network", "do network I/O outside forward()"),
    "subprocess": ("it starts processes", "do this outside forward()"),
    "threading": ("it uses threads or locks", "do this outside forward()"),
    "uuid": ("it draws random identifiers", "create identifiers outside forward()"),
}
_MODULE_ALIASES = {"_random": "random", "posix": "os", "nt": "os", "_io": "io", "_socket": "socket",
                   "_thread": "threading", "_datetime": "datetime", "_posixsubprocess": "subprocess"}
_OUTSIDE_BUILTINS = {
    builtins.open: ("it opens a file", "read files outside forward() and pass the data in"),
    builtins.input: ("it reads from the terminal", "read input outside forward()"),
    builtins.breakpoint: ("it starts the debugger", "remove breakpoint() from forward()"),
}


def outside_world_reason(fn: Any) -> tuple[str, str, str] | None:
    """(category, why, fix) for a native known to touch the outside world, else None."""
    owner = getattr(fn, "__self__", None)
    module = getattr(fn, "__module__", None)
    if issubclass(type(owner), types.ModuleType):
        module = owner.__name__
    elif owner is not None and not issubclass(type(owner), type):
        module = type(owner).__module__
    elif owner is None and getattr(fn, "__objclass__", None) is not None:
        module = fn.__objclass__.__module__
    known = _OUTSIDE_BUILTINS.get(fn) if type(fn) is types.BuiltinFunctionType else None
    if known is not None:
        return Category.SIDE_EFFECT, known[0], known[1]
    root = (module or "").split(".")[0]
    root = _MODULE_ALIASES.get(root, root)
    if root in _OUTSIDE_WORLD:
        why, fix = _OUTSIDE_WORLD[root]
        return Category.SIDE_EFFECT, why, fix
    return None


def _defining_class(cls: type, name: str) -> type | None:
    """The class in cls's MRO whose own dict holds the *native* attribute `name` (a Python
    override higher up, like a class's own __init_subclass__, is skipped: the native being
    called is the one below it)."""
    for klass in cls.__mro__:
        raw = klass.__dict__.get(name)
        if raw is None:
            continue
        if type(getattr(raw, "__func__", raw)) is types.FunctionType:
            continue
        return klass
    return None


def _pure_method_of(owner: type | None, name: str) -> bool:
    if owner is None:
        return False
    if owner in (object, type):
        return name in PURE_OBJECT_METHODS
    # Builtin container/value types, and C types of the pure modules (itertools, functools, ...).
    return issubclass(owner, PURE_METHOD_TYPES) or owner.__module__ in PURE_NATIVE_MODULES


def native_is_pure(fn: Any) -> bool:
    """May this native callable run for real (given no proxy reaches a C API through it)?"""
    t = type(fn)
    if t is types.BuiltinFunctionType:
        if fn in PURE_NATIVE_FUNCTIONS:
            return True
        owner = getattr(fn, "__self__", None)
        if owner is None or issubclass(type(owner), types.ModuleType):
            module = getattr(fn, "__module__", None) or getattr(owner, "__name__", None)
            if module == "builtins":
                return fn.__name__ not in IMPURE_BUILTINS
            return module in PURE_NATIVE_MODULES
        if issubclass(type(owner), type):      # a classmethod of a builtin type, or a type's method
            klass = _defining_class(owner, fn.__name__) or _defining_class(type(owner), fn.__name__)
        else:
            klass = _defining_class(type(owner), fn.__name__)
        return _pure_method_of(klass, fn.__name__)
    if t in (types.MethodDescriptorType, types.WrapperDescriptorType,
             types.ClassMethodDescriptorType):
        return _pure_method_of(fn.__objclass__, fn.__name__)
    if t is types.MethodWrapperType:
        return _pure_method_of(_defining_class(type(fn.__self__), fn.__name__), fn.__name__)
    if t is functools.partial:
        return True
    return fn in _PURE_CALLABLE_OBJECTS


def mutated_container(fn: Any, args: tuple) -> Any:
    """The builtin container a native call is about to mutate, if any."""
    try:
        position = MUTATING_FUNCTIONS.get(fn)
    except TypeError:
        position = None
    if position is not None:
        target = args[position] if position < len(args) else None
        return target if issubclass(type(target), (list, dict, set, bytearray, collections.deque)) else None
    name = getattr(fn, "__name__", "")
    if name not in MUTATING_METHODS:
        return None
    t = type(fn)
    if t is types.BuiltinFunctionType or t is types.MethodWrapperType:
        target = fn.__self__
    elif t in (types.MethodDescriptorType, types.WrapperDescriptorType) and args:
        target = args[0]
    else:
        return None
    if issubclass(type(target), (list, dict, set, bytearray, collections.deque)):
        return target
    return None


_PURE_CALLABLE_OBJECTS = frozenset({
    operator.itemgetter, operator.attrgetter, operator.methodcaller,
})

# Individual natives from otherwise impure modules that only read interpreter settings.
PURE_NATIVE_FUNCTIONS = frozenset({
    sys.getrecursionlimit, sys.intern, sys.getdefaultencoding, sys.getfilesystemencoding,
    sys.is_finalizing, os.fspath, _thread.get_ident,
})

# Modules whose natives are known pure even though they live in torch (metadata queries).
TORCH_QUERIES = frozenset({
    torch.get_default_dtype, torch._C._get_cudnn_enabled,
    torch._C._log_api_usage_once, torch.is_inference_mode_enabled,
    torch._C._get_cublas_allow_tf32, torch.get_num_threads,
    torch._C._get_deterministic_algorithms, torch._C._get_deterministic_algorithms_warn_only,
    torch._C._get_mkldnn_enabled, torch._C._get_nnpack_enabled,
    # CUDA builds (the registry's wheels for 3.12/3.13): torch.cuda.is_available() asks this.
    *(getattr(torch._C, name) for name in ("_cuda_getDeviceCount",) if hasattr(torch._C, name)),
})


def builtin_names_for_docs() -> list[str]:
    """The builtins that run natively (used by tests and the README's policy table)."""
    return sorted(n for n in dir(builtins) if callable(getattr(builtins, n)) and
                  native_is_pure(getattr(builtins, n)))

