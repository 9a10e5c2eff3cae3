"""Polyfills for stdlib natives that call back into the program: `operator` (its functions
are the interpreter's own operator protocols), `functools` (reduce, lru_cache wrappers),
`itertools` (callback- and iterable-taking iterators) and `contextvars` (sandboxed set)."""
from __future__ import annotations

import contextvars
import functools
import itertools
import operator
import types
import warnings
from typing import Any

from ...errors import Category
from ...proxy import TensorProxy
from .adapters import (BinaryOpCallable, InterpretedCallable, IterablesIterable, TruthCallable, native_iterable)
from ..registry import CALL_SPECIAL, special
from .polyfills import index_of
from ..objects.protocols import BINARY_OPS, display_name

# ---------------------------------------------------------------- operator
_BINARY_INDEX = {entry[0]: index for index, entry in enumerate(BINARY_OPS)}
_COMPARE_INDEX = {operator.lt: 0, operator.le: 1, operator.eq: 2, operator.ne: 3, operator.gt: 4,
                  operator.ge: 5}


def _binary(index: int):
    def handler(interp, args, kwargs):
        if len(args) != 2 or kwargs:
            return interp.guard.run_native(BINARY_OPS[index][0], *args, **kwargs)
        return interp.binary_op(index, args[0], args[1])
    return handler


def _comparison(index: int, native: Any):
    def handler(interp, args, kwargs):
        if len(args) != 2 or kwargs:
            return interp.guard.run_native(native, *args, **kwargs)
        return interp.compare(index, args[0], args[1])
    return handler


for _fn, _index in _BINARY_INDEX.items():
    special(_fn)(_binary(_index))
for _fn, _index in _COMPARE_INDEX.items():
    special(_fn)(_comparison(_index, _fn))


def _fixed_arity(native: Any, arity: int, run):
    def handler(interp, args, kwargs):
        if len(args) != arity or kwargs:
            return interp.guard.run_native(native, *args, **kwargs)
        return run(interp, *args)
    return handler


_UNARY_OPCODES = {operator.neg: "UNARY_NEGATIVE", operator.pos: "UNARY_POSITIVE",
                  operator.invert: "UNARY_INVERT", operator.inv: "UNARY_INVERT"}
for _fn, _opname in _UNARY_OPCODES.items():
    special(_fn)(_fixed_arity(_fn, 1, lambda interp, v, _op=_opname: interp.unary(_op, v)))

special(operator.not_)(_fixed_arity(operator.not_, 1, lambda interp, v: not interp.truth(v)))
special(operator.truth)(_fixed_arity(operator.truth, 1, lambda interp, v: interp.truth(v)))
special(operator.abs)(_fixed_arity(operator.abs, 1, lambda interp, v: interp.call(abs, (v,), {})))
special(operator.index)(_fixed_arity(operator.index, 1, index_of))
special(operator.getitem)(_fixed_arity(operator.getitem, 2, lambda interp, a, b: interp.subscr(a, b)))
special(operator.setitem)(_fixed_arity(operator.setitem, 3,
                                       lambda interp, a, b, c: interp.store_subscr(a, b, c)))
special(operator.delitem)(_fixed_arity(operator.delitem, 2,
                                       lambda interp, a, b: interp.delete_subscr(a, b)))
special(operator.contains)(_fixed_arity(operator.contains, 2,
                                        lambda interp, a, b: interp.contains(a, b)))


def _concat(interp, a: Any, b: Any) -> Any:
    if not hasattr(type(a), "__getitem__"):
        raise TypeError(f"'{display_name(type(a))}' object can't be concatenated")
    return interp.binary_op(0, a, b)


special(operator.concat)(_fixed_arity(operator.concat, 2, _concat))


# itemgetter / attrgetter / methodcaller instances: their lookups run in the interpreter.
def _call_itemgetter(interp, getter, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(getter, *args, **kwargs)
    items = getter.__reduce__()[1]
    if len(items) == 1:
        return interp.subscr(args[0], items[0])
    return tuple(interp.subscr(args[0], item) for item in items)


def _call_attrgetter(interp, getter, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(getter, *args, **kwargs)
    paths = getter.__reduce__()[1]

    def resolve(path: str) -> Any:
        value = args[0]
        for part in path.split("."):
            value = interp.load_attr(value, part)
        return value
    if len(paths) == 1:
        return resolve(paths[0])
    return tuple(resolve(p) for p in paths)


def _call_methodcaller(interp, caller, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(caller, *args, **kwargs)
    factory, reduced = caller.__reduce__()
    if issubclass(type(factory), functools.partial):        # methodcaller(name, **kwargs)
        name, call_kwargs = factory.args[0], dict(factory.keywords)
        call_args = reduced
    else:
        name, call_args, call_kwargs = reduced[0], reduced[1:], {}
    return interp.call(interp.load_attr(args[0], name), tuple(call_args), call_kwargs)


CALL_SPECIAL[operator.itemgetter] = _call_itemgetter
CALL_SPECIAL[operator.attrgetter] = _call_attrgetter
CALL_SPECIAL[operator.methodcaller] = _call_methodcaller


# ---------------------------------------------------------------- functools
@special(functools.reduce)
def _reduce(interp, args, kwargs):
    if not 2 <= len(args) <= 3 or kwargs:
        return interp.guard.run_native(functools.reduce, *args, **kwargs)
    fn = InterpretedCallable(interp, args[0])
    return interp.guard.run_native(functools.reduce, fn, native_iterable(interp, args[1]), *args[2:])


def _call_cached(interp, wrapper, args, kwargs):
    """A functools.lru_cache/cache wrapper: the wrapped function is interpreted every time
    (the cache lives outside the trace; reading or filling it would leak trace values)."""
    return interp.call(wrapper.__wrapped__, args, kwargs)


CALL_SPECIAL[functools._lru_cache_wrapper] = _call_cached


def _call_generic_alias(interp, alias, args, kwargs):
    """`dict[str, int]()`, `MyBox[int](x)`: types.GenericAlias.__call__ calls the origin
    class and records the alias on the instance when the instance takes attributes."""
    obj = interp.call(alias.__origin__, args, kwargs)
    if type(obj).__module__ != "builtins":
        try:
            interp.store_attr(obj, "__orig_class__", alias)
        except (AttributeError, TypeError):
            pass
    return obj


CALL_SPECIAL[types.GenericAlias] = _call_generic_alias


@special(functools.cmp_to_key)
def _cmp_to_key(interp, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(functools.cmp_to_key, *args, **kwargs)
    return interp.guard.run_native(functools.cmp_to_key, InterpretedCallable(interp, args[0]))


# ---------------------------------------------------------------- itertools
def _iterables_after(native: Any, first: int):
    """A native whose positional arguments from `first` on are iterables it consumes."""
    def handler(interp, args, kwargs):
        adapted = (*args[:first], *(native_iterable(interp, a) for a in args[first:]))
        return interp.guard.run_native(native, *adapted, **kwargs)
    return handler


for _native in (itertools.chain, itertools.zip_longest, itertools.product, itertools.cycle,
                itertools.pairwise, itertools.permutations, itertools.combinations,
                itertools.combinations_with_replacement, itertools.islice, itertools.tee):
    special(_native)(_iterables_after(_native, 0))


@special(itertools.chain.from_iterable)
def _chain_from_iterable(interp, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(itertools.chain.from_iterable, *args, **kwargs)
    return interp.guard.run_native(itertools.chain.from_iterable, IterablesIterable(interp, args[0]))


def _predicate_first(native: Any):
    def handler(interp, args, kwargs):
        if len(args) != 2 or kwargs:
            return interp.guard.run_native(native, *args, **kwargs)
        return interp.guard.run_native(native, TruthCallable(interp, args[0]),
                                 native_iterable(interp, args[1]))
    return handler


for _native in (itertools.takewhile, itertools.dropwhile, itertools.filterfalse):
    special(_native)(_predicate_first(_native))


@special(itertools.starmap)
def _starmap(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return interp.guard.run_native(itertools.starmap, *args, **kwargs)
    return interp.guard.run_native(itertools.starmap, InterpretedCallable(interp, args[0]),
                             native_iterable(interp, args[1]))


@special(itertools.accumulate)
def _accumulate(interp, args, kwargs):
    if not 1 <= len(args) <= 2 or set(kwargs) - {"func", "initial"}:
        return interp.guard.run_native(itertools.accumulate, *args, **kwargs)
    func = args[1] if len(args) == 2 else kwargs.get("func")
    adapter = BinaryOpCallable(interp, 0) if func is None else InterpretedCallable(interp, func)
    extra = {"initial": kwargs["initial"]} if "initial" in kwargs else {}
    return interp.guard.run_native(itertools.accumulate, native_iterable(interp, args[0]), adapter, **extra)


@special(itertools.compress)
def _compress(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return interp.guard.run_native(itertools.compress, *args, **kwargs)
    selectors = interp.guard.run_native(map, TruthCallable(interp, None), native_iterable(interp, args[1]))
    return interp.guard.run_native(itertools.compress, native_iterable(interp, args[0]), selectors)


@special(itertools.groupby)
def _groupby(interp, args, kwargs):
    if not 1 <= len(args) <= 2 or set(kwargs) - {"key"}:
        return interp.guard.run_native(itertools.groupby, *args, **kwargs)
    key = args[1] if len(args) == 2 else kwargs.get("key")
    adapted_key = None if key is None else InterpretedCallable(interp, key)
    return interp.guard.run_native(itertools.groupby, native_iterable(interp, args[0]), adapted_key)


# ---------------------------------------------------------------- contextvars
@special(contextvars.ContextVar.get)
def _contextvar_get(interp, args, kwargs):
    return interp.guard.run_native(contextvars.ContextVar.get, *args, **kwargs)


@special(contextvars.ContextVar.set)
def _contextvar_set(interp, args, kwargs):
    token = interp.guard.run_native(contextvars.ContextVar.set, *args, **kwargs)
    interp.state.sandbox.record_context_var(token)
    return token


@special(contextvars.ContextVar.reset)
def _contextvar_reset(interp, args, kwargs):
    return interp.guard.run_native(contextvars.ContextVar.reset, *args, **kwargs)


# ---------------------------------------------------------------- warnings
@special(warnings.warn)
def _warn(interp, args, kwargs):
    """warnings.warn attributed to the interpreted caller (CPython would find our frames)."""
    try:
        bound = _WARN_SIGNATURE.bind(*args, **kwargs)
    except TypeError:
        return interp.guard.run_native(warnings.warn, *args, **kwargs)
    message = bound.arguments["message"]
    if type(message) is TensorProxy or type(bound.arguments.get("source")) is TensorProxy:
        raise interp.refuse(Category.DATA_DEPENDENT_VALUE,
                            "warnings.warn() of a tensor needs its values, which do not exist "
                            "while tracing", hint="warn with shapes or a message string")
    category = bound.arguments.get("category")
    stacklevel = bound.arguments.get("stacklevel", 1)
    if isinstance(message, Warning):
        category = type(message)
    elif category is None:
        category = UserWarning
    frames = interp.frames
    frame = frames[max(len(frames) - stacklevel, 0)] if frames else None
    if frame is None:
        return interp.guard.run_native(warnings.warn, *args, **kwargs)
    module_globals = frame.globals
    module = module_globals.get("__name__", "<string>")
    # The module's once-per-location registry, changed under the sandbox like any global.
    registry = module_globals.get("__warningregistry__")
    if type(registry) is not dict:
        interp.state.sandbox.record_key(module_globals, "__warningregistry__")
        registry = module_globals["__warningregistry__"] = {}
        interp.state.sandbox.mark_fresh(registry)
    else:
        interp.state.sandbox.before_mutation(registry)
    # Showing a warning is output, like print(): the warnings machinery (filters, formatting,
    # linecache, a user showwarning hook) runs natively, unguarded, on plain arguments.
    return warnings.warn_explicit(message, category, frame.code.co_filename, frame.lineno or 0,
                                  module, registry, None, bound.arguments.get("source"))


def _warn_signature(message, category=None, stacklevel=1, source=None):
    pass


import inspect as _inspect  # noqa: E402

_WARN_SIGNATURE = _inspect.signature(_warn_signature)
