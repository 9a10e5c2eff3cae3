"""The cost of library Python (DESIGN.md): a vetted, explicit list of pure stdlib functions
that run natively instead of being interpreted.

Real models call `inspect.signature`, `dataclasses.fields`, enum lookups and the like on every
forward; interpreting them costs hundreds of instructions per call (inspect.signature: ~4 ms
interpreted, ~0.02 ms native). A function on this list runs natively when no proxy is
reachable from its arguments. It runs under the native guard; if it would start Python code
that is not vetted (a user `__getitem__`, a user `_missing_`, a `__post_init__`, ...), the
guard stops it before that code runs and the call is interpreted instead. The functions are
pure (they change nothing that existed before the call), so the aborted attempt leaves no
trace. `benchmarks/library_fast_path.py` (a Hugging Face-style model: config __getattribute__,
inspect.signature checks, enums, os.environ, a dataclass ModelOutput) measured 5714 -> 1562
interpreted instructions per export and ~10-20% less export CPU time.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import os
import types
import typing
from typing import Any

import torch

from ...proxy import TensorProxy
from ...symbolic import SymValue
from ..objects.protocols import SAFE_TYPES, STAND_IN_TYPES

_CANDIDATES = (
    inspect.signature, inspect.unwrap, inspect.isclass, inspect.ismethod, inspect.isfunction,
    inspect.isgeneratorfunction, inspect.iscoroutinefunction, inspect.isroutine,
    inspect.isbuiltin, inspect.ismodule, inspect.getmro, inspect.getfullargspec,
    inspect.getattr_static, inspect.Signature.bind, inspect.Signature.bind_partial,
    dataclasses.fields, dataclasses.is_dataclass, dataclasses.asdict, dataclasses.astuple,
    typing.get_origin, typing.get_args, typing.get_type_hints,
    os.getenv, collections.abc.Mapping.get, collections.abc.Mapping.__contains__,
    enum.EnumType.__call__, enum.EnumType.__contains__, enum.EnumType.__iter__,
    enum.EnumType.__len__, enum.EnumType.__getitem__, enum.Enum.__hash__, enum.Enum.__repr__,
    enum.Enum.__str__, enum.Enum.__format__, enum.property.__get__,
)
NATIVE_LIBRARY_FUNCTIONS: frozenset = frozenset(
    getattr(fn, "__func__", fn) for fn in _CANDIDATES
    if type(getattr(fn, "__func__", fn)) is types.FunctionType)

_SCAN_BUDGET = 200        # objects visited before giving up (and interpreting)


def reaches_proxy(values: Any) -> bool:
    """Could a proxy be reached from `values` (containers, object attributes, bound methods,
    closures)? Gives up (answers True) on very large structures."""
    budget = [_SCAN_BUDGET]
    seen: set[int] = set()
    return _reaches(values, 0, budget, seen)


def _reaches(value: Any, depth: int, budget: list, seen: set) -> bool:
    t = type(value)
    if t is TensorProxy or (t in STAND_IN_TYPES and not issubclass(t, SymValue)):
        return True     # (stand-ins: native code would see our class, not the one they play)
    if t in SAFE_TYPES and t not in (tuple, list, dict, set, frozenset):
        return False
    if id(value) in seen:
        return False
    seen.add(id(value))
    budget[0] -= 1
    if budget[0] < 0 or depth > 4:
        return True
    if t in (tuple, list, set, frozenset):
        return any(_reaches(v, depth + 1, budget, seen) for v in value)
    if t is dict:
        return any(_reaches(k, depth + 1, budget, seen) or _reaches(v, depth + 1, budget, seen)
                   for k, v in value.items())
    if t is types.MethodType:
        return _reaches(value.__self__, depth + 1, budget, seen)
    if t is types.FunctionType:
        cells = value.__closure__ or ()
        return any(_reaches(_cell(c), depth + 1, budget, seen) for c in cells)
    if isinstance(value, (type, torch.nn.Module)) or t is types.ModuleType:
        return False    # proxies never sit in a module's __dict__ (tensor stores go to an overlay)
    try:
        namespace = object.__getattribute__(value, "__dict__")
    except AttributeError:
        namespace = None
    if type(namespace) is dict:
        return any(_reaches(v, depth + 1, budget, seen) for v in namespace.values())
    return False


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return None
