"""torch.autocast inside forward(): its natives act on the trace's VirtualAutocast.

`torch.autocast(...)` objects are constructed and entered by interpreting torch's own
`__init__`/`__enter__`/`__exit__`; only the natives they call are handled here. Queries read
the virtual state; changes are accepted only from autocast's `__enter__`/`__exit__` (so the
state always matches the open regions), and `autocast_increment_nesting` /
`autocast_decrement_nesting`, which every entered block calls once, open and close regions.
Constructing an autocast class records the arguments torch.export puts on its
`wrap_with_autocast` node: the call's, bound to the class's signature with its defaults.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch.amp import autocast_mode

from ...trace.autocast import MODELLED_DEVICE
from ...errors import Category
from ...proxy import TensorProxy
from ...symbolic import SymValue
from ..registry import special

_AUTOCAST = autocast_mode.autocast
_ENTER_EXIT = (_AUTOCAST.__enter__.__code__, _AUTOCAST.__exit__.__code__)
_LEGACY_DEVICE = "cuda"      # the device of torch's device-less autocast functions

_DEVICE_HINT = (f"use torch.autocast({MODELLED_DEVICE!r}, ...) for the CPU tensors being traced, "
                "or leave the autocast block out of forward() and enable it around the call of "
                "the exported program instead")


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _manager(interp, native: str) -> Any:
    """The autocast object whose __enter__/__exit__ calls `native`; refuse other callers."""
    frame = interp.frames[-1] if interp.frames else None
    if frame is None or frame.code not in _ENTER_EXIT:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.{native} changes the autocast state outside a torch.autocast block; "
            "strict_tracer records autocast only as `with torch.autocast(...)` regions",
            hint="use `with torch.autocast(device_type, ...):` (or @torch.autocast(...) on a "
                 "helper) around the ops instead")
    return frame.localsplus[0]        # `self`, the first argument of __enter__/__exit__


def _check_device(interp, device: Any, enabled: bool) -> None:
    """Autocast on another device leaves ops on the traced CPU tensors as they are (eager
    ignores it for them), so a block on it is recorded with the CPU state unchanged. One that
    is really enabled (its device available) is refused: tensors created on that device inside
    it would take dtypes strict_tracer does not model."""
    if device != MODELLED_DEVICE and enabled:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"autocast on device_type {device!r} is not supported: strict_tracer traces "
            f"{MODELLED_DEVICE} tensors and cannot tell what ops would do under {device!r} autocast",
            hint=_DEVICE_HINT)


# ---------------------------------------------------------------- construction
def _constructor(cls: type, fixed_device: str | None):
    signature = inspect.signature(cls.__init__)

    def construct(interp, args, kwargs):
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:
            return interp.construct(cls, args, kwargs)    # the real error, from __init__
        bound.apply_defaults()
        values = bound.arguments
        device = fixed_device or values["device_type"]
        recorded = (device, values["dtype"], values["enabled"], values["cache_enabled"])
        for name, value in zip(("dtype", "enabled", "cache_enabled"), recorded[1:]):
            if isinstance(value, (TensorProxy, SymValue)):
                raise interp.refuse(
                    Category.DATA_DEPENDENT_VALUE,
                    f"torch.autocast argument {name} must be a constant, got {type(value).__name__}",
                    hint="pass Python constants (the region's settings are fixed in the program)",
                    operands=(value,))
        obj = interp.construct(cls, args, kwargs)
        interp.state.autocast.constructed[id(obj)] = (obj, recorded)
        return obj
    return construct


special(_AUTOCAST)(_constructor(_AUTOCAST, None))
special(torch.cpu.amp.autocast)(_constructor(torch.cpu.amp.autocast, "cpu"))
special(torch.cuda.amp.autocast)(_constructor(torch.cuda.amp.autocast, "cuda"))


# ---------------------------------------------------------------- queries
@special(torch.is_autocast_enabled)
def _is_enabled(interp, args, kwargs):
    return interp.state.autocast.is_enabled(_arg(args, kwargs, 0, "device_type", _LEGACY_DEVICE))


@special(torch.get_autocast_dtype)
def _get_dtype(interp, args, kwargs):
    return interp.state.autocast.dtype(_arg(args, kwargs, 0, "device_type"))


@special(torch.is_autocast_cpu_enabled)
def _is_cpu_enabled(interp, args, kwargs):
    return interp.state.autocast.is_enabled("cpu")


@special(torch.get_autocast_cpu_dtype)
def _get_cpu_dtype(interp, args, kwargs):
    return interp.state.autocast.dtype("cpu")


@special(torch.get_autocast_gpu_dtype)
def _get_gpu_dtype(interp, args, kwargs):
    return interp.state.autocast.dtype("cuda")


@special(torch._C._is_any_autocast_enabled)
def _is_any_enabled(interp, args, kwargs):
    return any(interp.state.autocast.enabled.values())


@special(torch.is_autocast_cache_enabled)
def _is_cache_enabled(interp, args, kwargs):
    return interp.state.autocast.cache_enabled


def _build_query(fn):
    def query(interp, args, kwargs):
        # A fact about the torch build, the same whenever the program runs.
        return fn(*args, **kwargs)
    return query


# (amp_definitely_not_available: whether CUDA or XLA is there; autocast("cuda") disables
# itself when neither is.)
for _fn in (torch._C._is_autocast_available, torch._C._get_privateuse1_backend_name,
            torch.cuda.amp.common.amp_definitely_not_available):
    special(_fn)(_build_query(_fn))


# ---------------------------------------------------------------- changes (from __enter__/__exit__)
@special(torch.set_autocast_enabled)
def _set_enabled(interp, args, kwargs):
    _manager(interp, "set_autocast_enabled")
    if len(args) + len(kwargs) == 1:
        device, enabled = _LEGACY_DEVICE, _arg(args, kwargs, 0, "enabled")
    else:
        device, enabled = _arg(args, kwargs, 0, "device_type"), _arg(args, kwargs, 1, "enabled")
    _check_device(interp, device, bool(enabled))
    interp.state.autocast.enabled[device] = bool(enabled)


@special(torch.set_autocast_dtype)
def _set_dtype(interp, args, kwargs):
    _manager(interp, "set_autocast_dtype")
    device, dtype = _arg(args, kwargs, 0, "device_type"), _arg(args, kwargs, 1, "dtype")
    interp.state.autocast.dtypes[device] = dtype


@special(torch.set_autocast_cache_enabled)
def _set_cache_enabled(interp, args, kwargs):
    _manager(interp, "set_autocast_cache_enabled")
    interp.state.autocast.cache_enabled = bool(_arg(args, kwargs, 0, "enabled"))


@special(torch.autocast_increment_nesting)
def _increment_nesting(interp, args, kwargs):
    manager = _manager(interp, "autocast_increment_nesting")
    state = interp.state.autocast
    entry = state.constructed.get(id(manager))
    if entry is not None and entry[0] is manager:
        recorded = entry[1]
    else:      # constructed before export() (a decorator, a module attribute): its settings
        recorded = (manager.device, manager.fast_dtype, manager._enabled, manager._cache_enabled)
    state.open(recorded)
    return state.nesting


@special(torch.autocast_decrement_nesting)
def _decrement_nesting(interp, args, kwargs):
    _manager(interp, "autocast_decrement_nesting")
    state = interp.state.autocast
    if state.region is None:
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            "an autocast block is exited that was not entered inside forward()",
                            hint="enter and exit torch.autocast blocks inside forward()")
    state.close()
    return state.nesting


def check_autocast_exited(interp) -> None:
    """After forward(): a block still open would leave autocast on in the caller (eager's
    global state changes), which the exported program cannot do."""
    if interp.state.autocast.region is not None:
        raise interp.refuse(Category.SIDE_EFFECT,
                            "forward() returns inside a torch.autocast block it entered, which "
                            "would leave autocast enabled for the caller",
                            hint="use `with torch.autocast(...):` so the block is exited before "
                                 "forward() returns")


@special(torch.clear_autocast_cache)
def _clear_cache(interp, args, kwargs):
    return None     # the virtual state caches nothing


def _refuse_legacy_setter(name: str):
    def refuse(interp, args, kwargs):
        _manager(interp, name)      # refuses: torch.autocast's own code never calls these
        raise interp.refuse(Category.UNSUPPORTED_NATIVE, f"torch.{name} is not supported")
    return refuse


for _name in ("set_autocast_cpu_enabled", "set_autocast_cpu_dtype", "set_autocast_gpu_dtype"):
    special(getattr(torch, _name))(_refuse_legacy_setter(_name))
