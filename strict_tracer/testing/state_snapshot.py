"""Snapshots of everything export() must leave as it found it, and a diff that names the
first path that changed (tests/test_reliability_state.py).

A snapshot is a plain nested structure of comparable values: tensors by value AND by identity
(object id, storage pointer, version counter, requires_grad, grad), Python objects by identity
plus their `__dict__` recursively, containers by contents, functions with their closure cells,
defaults and attributes, plus the process-wide state a forward() may flip (RNG states, grad
mode, default dtype, deterministic algorithms, thread count, matmul precision, print options,
global module hooks, mode stacks, profile/trace hooks, recursion limit, gc).
"""
from __future__ import annotations

import collections
import gc
import random
import sys
import types
import warnings
from typing import Any

import torch

try:
    import numpy
except ImportError:      # pragma: no cover - numpy is optional
    numpy = None

_PRIMITIVES = (int, float, bool, str, bytes, type(None), complex, torch.dtype, torch.device,
               torch.layout, torch.memory_format)
_MAX_DEPTH = 12


def _tensor(t: torch.Tensor, path: str, seen: dict, depth: int) -> tuple:
    grad = t.grad if t.is_leaf else None
    return ("tensor", type(t).__name__, id(t), t.dtype, tuple(t.shape), t.stride(),
            t.storage_offset(), t.untyped_storage().data_ptr(), t._version, t.requires_grad,
            None if grad is None else _walk(grad, path + ".grad", seen, depth + 1),
            t.detach().clone() if t.device.type != "meta" else None)


def _walk(obj: Any, path: str, seen: dict, depth: int) -> Any:
    if isinstance(obj, _PRIMITIVES):
        return (type(obj).__name__, obj)
    if id(obj) in seen:
        return ("seen", id(obj))
    if depth > _MAX_DEPTH:
        return ("deep", type(obj).__name__, id(obj))
    seen[id(obj)] = obj                      # keeps obj alive so ids stay unique
    if isinstance(obj, torch.Tensor):
        return _tensor(obj, path, seen, depth)
    if isinstance(obj, (types.ModuleType, type)):
        return ("ref", id(obj))              # modules and classes: identity only
    if isinstance(obj, dict):
        # The base class's views: dict subclasses (pytree's, torch's) may override items().
        keys = collections.OrderedDict.keys(obj) if isinstance(obj, collections.OrderedDict) \
            else dict.keys(obj)
        return (type(obj).__name__, id(obj),
                [(_walk(k, path, seen, depth + 1),
                  _walk(dict.__getitem__(obj, k), f"{path}[{k!r}]", seen, depth + 1))
                 for k in list(keys)],
                obj.default_factory if isinstance(obj, collections.defaultdict) else None)
    if isinstance(obj, (list, tuple, collections.deque)):
        return (type(obj).__name__, id(obj) if not isinstance(obj, tuple) else None,
                [_walk(v, f"{path}[{i}]", seen, depth + 1) for i, v in enumerate(obj)])
    if isinstance(obj, (set, frozenset)):
        return (type(obj).__name__, id(obj), sorted(repr(_walk(v, path, seen, depth + 1)) for v in obj))
    if isinstance(obj, types.FunctionType):
        cells = []
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
            try:
                cells.append((name, id(cell), _walk(cell.cell_contents, f"{path}.<{name}>", seen, depth + 1)))
            except ValueError:
                cells.append((name, id(cell), "<empty>"))
        return ("function", id(obj), id(obj.__code__), obj.__name__, cells,
                _walk(obj.__defaults__, path + ".__defaults__", seen, depth + 1),
                _walk(obj.__kwdefaults__, path + ".__kwdefaults__", seen, depth + 1),
                _walk(obj.__dict__, path + ".__dict__", seen, depth + 1))
    if isinstance(obj, types.MethodType):
        return ("method", _walk(obj.__self__, path, seen, depth + 1), obj.__func__.__name__)
    namespace = getattr(obj, "__dict__", None)
    slots = [(name, getattr(obj, name, "<unset>")) for klass in type(obj).__mro__
             for name in getattr(klass, "__slots__", ()) if name not in ("__dict__", "__weakref__")]
    return ("object", type(obj).__name__, id(obj),
            _walk(namespace, path + ".__dict__", seen, depth + 1) if isinstance(namespace, dict) else None,
            [(name, _walk(value, f"{path}.{name}", seen, depth + 1)) for name, value in slots])


def _global_torch_state() -> dict[str, Any]:
    from torch.nn.modules import module as module_mod
    state = {
        "grad_enabled": torch.is_grad_enabled(),
        "inference_mode": torch.is_inference_mode_enabled(),
        "default_dtype": torch.get_default_dtype(),
        "default_device": str(torch.get_default_device()),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "num_threads": torch.get_num_threads(),
        "matmul_precision": torch.get_float32_matmul_precision(),
        "anomaly": (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
        "autocast": (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")),
        "flush_denormal_probe": torch.tensor([1e-323], dtype=torch.float64).item(),
        "print_options": dict(vars(torch._tensor_str.PRINT_OPTS)),
        "torch_function_modes": len(torch.overrides._get_current_function_mode_stack()),
        "dispatch_modes": torch._C._len_torch_dispatch_stack(),
        "fake_mode": torch._guards.detect_fake_mode() is None,
        "mkldnn": torch.backends.mkldnn.enabled,
        "cudnn": (torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark,
                  torch.backends.cudnn.deterministic),
        "tf32": torch.backends.cuda.matmul.allow_tf32,
        "rng_torch": torch.get_rng_state(),
        "rng_python": random.getstate(),
        "rng_numpy": None if numpy is None else repr(numpy.random.get_state()),
    }
    for name in ("_global_buffer_registration_hooks", "_global_module_registration_hooks",
                 "_global_parameter_registration_hooks", "_global_backward_pre_hooks",
                 "_global_backward_hooks", "_global_forward_pre_hooks", "_global_forward_hooks",
                 "_global_forward_hooks_always_called", "_global_forward_hooks_with_kwargs"):
        hooks = getattr(module_mod, name, None)
        if hooks is not None:
            state[name] = [(key, id(value)) for key, value in hooks.items()]
    return state


def _process_state() -> dict[str, Any]:
    from strict_tracer import context
    return {
        "recursion_limit": sys.getrecursionlimit(),
        "profile": sys.getprofile(),
        "trace": sys.gettrace(),
        "gc_enabled": gc.isenabled(),
        "warnings_filters": list(warnings.filters),
        "active_trace": context.maybe_current(),
    }


def snapshot(mod: torch.nn.Module, *namespaces: Any) -> dict[str, Any]:
    """Everything of `mod` (recursively through its __dict__), of `namespaces` (module globals
    dicts, functions, objects) and of the process that export() must not change."""
    seen: dict[int, Any] = {}
    return {
        "module": _walk(mod, "mod", seen, 0),
        "namespaces": [_walk(ns, f"namespace{i}", seen, 0) for i, ns in enumerate(namespaces)],
        "torch": _global_torch_state(),
        "process": _process_state(),
        "seen": seen,
    }


def _diff(before: Any, after: Any, path: str) -> str | None:
    if isinstance(before, torch.Tensor) or isinstance(after, torch.Tensor):
        if not (isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor)):
            return f"{path}: {before!r} -> {after!r}"
        if before.shape != after.shape or before.dtype != after.dtype or \
                not torch.equal(before, after):
            return f"{path}: tensor values changed"
        return None
    if type(before) is not type(after):
        return f"{path}: {before!r} -> {after!r}"
    if isinstance(before, dict):
        if list(before) != list(after):
            return f"{path}: keys {list(before)} -> {list(after)}"
        for key in before:
            found = _diff(before[key], after[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(before, (list, tuple)):
        if len(before) != len(after):
            return f"{path}: length {len(before)} -> {len(after)}: {before!r:.300} -> {after!r:.300}"
        for i, (b, a) in enumerate(zip(before, after)):
            found = _diff(b, a, path + _label(before, i))
            if found:
                return found
        return None
    if before != after:
        return f"{path}: {before!r:.200} -> {after!r:.200}"
    return None


def _label(parent: tuple | list, index: int) -> str:
    """A readable path step: a dict key or attribute name, or the walked object's type."""
    item = parent[index]
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple) \
            and len(item[0]) == 2 and isinstance(item[0][1], (str, int)):
        return f"[{item[0][1]!r}]"                       # (key, value) pair of a dict
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return f".{item[0]}"                             # (name, value) pair of slots/cells
    if isinstance(item, tuple) and item and item[0] in ("object", "function", "tensor"):
        return f"<{item[0]} {item[1]}>"
    return ""


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Fail naming the first difference between two snapshots."""
    for key in ("module", "namespaces", "torch", "process"):
        found = _diff(before[key], after[key], key)
        assert found is None, f"export() changed state: {found}"
