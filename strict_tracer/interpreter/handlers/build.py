"""Handlers: containers, unpacking, strings, functions, classes, imports, pattern matching."""
from __future__ import annotations

import collections.abc
import types

from ..registry import handler
from ..frame import NULL
from ..objects.protocols import _MISSING, SAFE_TYPES, lookup_special


def _fresh(interp, obj):
    interp.state.sandbox.mark_fresh(obj)
    return obj


def _pop_n(stack: list, n: int) -> list:
    if n == 0:
        return []
    items = stack[-n:]
    del stack[-n:]
    return items


# ---------------------------------------------------------------- building
@handler("BUILD_TUPLE")
def op_build_tuple(interp, frame, instr):
    frame.stack.append(tuple(_pop_n(frame.stack, instr.arg)))


@handler("BUILD_LIST")
def op_build_list(interp, frame, instr):
    frame.stack.append(_fresh(interp, _pop_n(frame.stack, instr.arg)))


@handler("BUILD_SET")
def op_build_set(interp, frame, instr):
    items = _pop_n(frame.stack, instr.arg)
    result = _fresh(interp, set())
    for item in items:
        interp.set_add(result, item)
    frame.stack.append(result)


@handler("BUILD_MAP")
def op_build_map(interp, frame, instr):
    items = _pop_n(frame.stack, 2 * instr.arg)
    result = _fresh(interp, {})
    for i in range(0, len(items), 2):
        interp.store_subscr(result, items[i], items[i + 1])
    frame.stack.append(result)


@handler("BUILD_CONST_KEY_MAP")
def op_build_const_key_map(interp, frame, instr):
    keys = frame.stack.pop()
    values = _pop_n(frame.stack, instr.arg)
    frame.stack.append(_fresh(interp, dict(zip(keys, values))))


@handler("BUILD_SLICE")
def op_build_slice(interp, frame, instr):
    frame.stack.append(slice(*_pop_n(frame.stack, instr.arg)))


@handler("BUILD_STRING")
def op_build_string(interp, frame, instr):
    frame.stack.append("".join(_pop_n(frame.stack, instr.arg)))


@handler("LIST_APPEND")
def op_list_append(interp, frame, instr):
    value = frame.stack.pop()
    frame.stack[-instr.arg].append(value)


@handler("SET_ADD")
def op_set_add(interp, frame, instr):
    value = frame.stack.pop()
    interp.set_add(frame.stack[-instr.arg], value)


@handler("MAP_ADD")
def op_map_add(interp, frame, instr):
    value = frame.stack.pop()
    key = frame.stack.pop()
    interp.store_subscr(frame.stack[-instr.arg], key, value)


@handler("LIST_EXTEND")
def op_list_extend(interp, frame, instr):
    iterable = frame.stack.pop()
    target = frame.stack[-instr.arg]
    if type(iterable) in SAFE_TYPES:
        try:
            target.extend(iterable)
        except TypeError:
            raise TypeError(f"Value after * must be an iterable, not {type(iterable).__name__}") from None
        return
    try:
        items = interp.iterate(iterable)
    except TypeError:
        tp = interp.python_type(iterable)
        if lookup_special(tp, "__iter__") is _MISSING and lookup_special(tp, "__getitem__") is _MISSING:
            raise TypeError(f"Value after * must be an iterable, not {tp.__name__}") from None
        raise
    target.extend(items)


@handler("SET_UPDATE")
def op_set_update(interp, frame, instr):
    iterable = frame.stack.pop()
    target = frame.stack[-instr.arg]
    for item in interp.iterate(iterable):
        interp.set_add(target, item)


@handler("DICT_UPDATE")
def op_dict_update(interp, frame, instr):
    other = frame.stack.pop()
    target = frame.stack[-instr.arg]
    for key, value in interp.mapping_items(other):
        interp.store_subscr(target, key, value)


@handler("DICT_MERGE")
def op_dict_merge(interp, frame, instr):
    other = frame.stack.pop()
    target = frame.stack[-instr.arg]
    for key, value in interp.mapping_items(other):
        if key in target:
            # The callable sits below the positional arguments, after (3.11/3.12) or before
            # (3.13) its NULL.
            func = frame.stack[-instr.arg - 2]
            if func is NULL:
                func = frame.stack[-instr.arg - 3]
            raise TypeError(f"{function_str(func)} got multiple values for keyword argument '{key}'")
        target[key] = value


@handler("LIST_TO_TUPLE", until=(3, 11))
def op_list_to_tuple(interp, frame, instr):
    frame.stack[-1] = tuple(frame.stack[-1])


def function_str(func) -> str:
    """`_PyObject_FunctionStr`: how CPython names a callable in argument errors."""
    qualname = getattr(func, "__qualname__", None)
    if qualname is None:
        return str(func)
    module = getattr(func, "__module__", None)
    if module is not None and module != "builtins":
        return f"{module}.{qualname}()"
    return f"{qualname}()"


# ---------------------------------------------------------------- unpacking
@handler("UNPACK_SEQUENCE")
def op_unpack_sequence(interp, frame, instr):
    seq = frame.stack.pop()
    n = instr.arg
    if type(seq) in (tuple, list) and len(seq) == n:
        items = seq
    else:
        items = _unpack_iterate(interp, seq, n + 1)
        if len(items) > n:
            raise ValueError(f"too many values to unpack (expected {n})")
        if len(items) < n:
            raise ValueError(f"not enough values to unpack (expected {n}, got {len(items)})")
    frame.stack.extend(reversed(items))


def _unpack_iterate(interp, seq, limit):
    try:
        it = interp.get_iter(seq)
    except TypeError:
        tp = interp.python_type(seq)
        if lookup_special(tp, "__iter__") is _MISSING and lookup_special(tp, "__getitem__") is _MISSING:
            raise TypeError(f"cannot unpack non-iterable {tp.__name__} object") from None
        raise
    items = []
    while limit is None or len(items) < limit:
        try:
            items.append(interp.next_item(it))
        except StopIteration:
            break
    return items


@handler("UNPACK_EX")
def op_unpack_ex(interp, frame, instr):
    seq = frame.stack.pop()
    before = instr.arg & 0xFF
    after = instr.arg >> 8
    items = list(seq) if type(seq) in (tuple, list) else _unpack_iterate(interp, seq, None)
    if len(items) < before + after:
        raise ValueError(f"not enough values to unpack (expected at least {before + after}, "
                         f"got {len(items)})")
    middle = items[before:len(items) - after]
    result = items[:before] + [_fresh(interp, middle)] + items[len(items) - after:]
    frame.stack.extend(reversed(result))


# ---------------------------------------------------------------- strings
@handler("FORMAT_VALUE", until=(3, 12))
def op_format_value(interp, frame, instr):
    flags = instr.raw_arg
    spec = frame.stack.pop() if flags & 0x04 else ""
    value = convert_value(interp, frame.stack.pop(), flags & 0x03)
    frame.stack.append(interp.text.format_value(value, spec))


def convert_value(interp, value, conversion: int):
    """An f-string's `!s` (1), `!r` (2) or `!a` (3) conversion; 0 leaves the value."""
    if conversion == 1:
        return interp.text.to_str(value)
    if conversion == 2:
        return interp.text.to_repr(value)
    if conversion == 3:
        return ascii(interp.text.to_repr(value))[1:-1]
    return value


# ---------------------------------------------------------------- functions and classes
@handler("MAKE_FUNCTION", until=(3, 12))
def op_make_function(interp, frame, instr):
    stack = frame.stack
    flags = instr.raw_arg
    code = stack.pop()
    closure = stack.pop() if flags & 0x08 else None
    annotations = stack.pop() if flags & 0x04 else None
    kwdefaults = stack.pop() if flags & 0x02 else None
    defaults = stack.pop() if flags & 0x01 else None
    stack.append(make_function(interp, frame, code, defaults, kwdefaults, annotations, closure))


def make_function(interp, frame, code: types.CodeType, defaults, kwdefaults, annotations,
                  closure) -> types.FunctionType:
    fn = types.FunctionType(code, frame.globals, code.co_name, defaults, closure)
    fn.__qualname__ = code.co_qualname
    if kwdefaults is not None:
        fn.__kwdefaults__ = kwdefaults
    if annotations is not None:
        if issubclass(type(annotations), tuple):
            annotations = dict(zip(annotations[::2], annotations[1::2]))
        fn.__annotations__ = annotations
    return _fresh(interp, fn)


@handler("LOAD_BUILD_CLASS")
def op_load_build_class(interp, frame, instr):
    from ..objects.classes import ClassBuilder
    frame.stack.append(ClassBuilder(interp))


@handler("SETUP_ANNOTATIONS")
def op_setup_annotations(interp, frame, instr):
    namespace = frame.locals_dict if frame.locals_dict is not None else frame.globals
    if "__annotations__" not in namespace:
        interp.store_subscr(namespace, "__annotations__", _fresh(interp, {}))


# ---------------------------------------------------------------- imports
@handler("IMPORT_NAME")
def op_import_name(interp, frame, instr):
    fromlist = frame.stack.pop()
    level = frame.stack.pop()
    frame.stack.append(__import__(instr.arg, frame.globals, None, fromlist, level))


@handler("IMPORT_FROM")
def op_import_from(interp, frame, instr):
    module = frame.stack[-1]
    name = instr.arg
    frame.stack.append(_import_from(module, name))


def _import_from(module, name: str):
    """ceval.c import_from: the attribute, else the submodule, else CPython's ImportError."""
    import sys
    if hasattr(module, name):
        return getattr(module, name)
    package = getattr(module, "__name__", None)
    if isinstance(package, str) and f"{package}.{name}" in sys.modules:
        return sys.modules[f"{package}.{name}"]
    shown = package if isinstance(package, str) else "<unknown module name>"
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        message = f"cannot import name {name!r} from {shown!r} (unknown location)"
    else:
        message = f"cannot import name {name!r} from {shown!r} ({path})"
    raise ImportError(message, name=package, path=path)


# ---------------------------------------------------------------- pattern matching
_TPFLAGS_SEQUENCE = 1 << 5
_TPFLAGS_MAPPING = 1 << 6


@handler("MATCH_MAPPING")
def op_match_mapping(interp, frame, instr):
    # The type flag collections.abc.Mapping (and dict) set, as CPython tests it.
    frame.stack.append(bool(interp.python_type(frame.stack[-1]).__flags__ & _TPFLAGS_MAPPING))


@handler("MATCH_SEQUENCE")
def op_match_sequence(interp, frame, instr):
    frame.stack.append(bool(interp.python_type(frame.stack[-1]).__flags__ & _TPFLAGS_SEQUENCE))


@handler("MATCH_KEYS")
def op_match_keys(interp, frame, instr):
    keys = frame.stack[-1]
    subject = frame.stack[-2]
    values = []
    missing = object()
    for key in keys:
        value = interp.call(interp.load_attr(subject, "get"), (key, missing), {})
        if value is missing:
            frame.stack.append(None)
            return
        values.append(value)
    frame.stack.append(tuple(values))


@handler("MATCH_CLASS")
def op_match_class(interp, frame, instr):
    stack = frame.stack
    names = stack.pop()
    cls = stack.pop()
    subject = stack.pop()
    stack.append(interp.match_class(subject, cls, instr.arg, names))
