"""nn.Module semantics: calls (with hooks), attribute reads and writes.

Parameters and buffers read through a module become lifted proxies named by their state_dict
key. Tensor-valued stores on modules (`self.buf = x * 2`) go to an overlay that later reads
see; they never land in the real module (`_buffers` never holds a proxy).
"""
from __future__ import annotations

import types
from typing import Any

import torch
from torch.export._trace import DEFAULT_EXPORT_DYNAMO_CONFIG
from torch.nn.modules import module as module_impl

from ...errors import Category
from ...trace.module_calls import call_preserved
from ...proxy import TensorProxy
from ..objects.protocols import _MISSING, lookup_special

_Module = torch.nn.Module
_module_getattr = _Module.__getattr__
_module_setattr = _Module.__setattr__
_module_delattr = _Module.__delattr__
_module_call = _Module.__call__


def _has_hooks(mod: _Module) -> bool:
    return bool(mod._forward_hooks or mod._forward_pre_hooks or mod._backward_hooks
                or mod._backward_pre_hooks or module_impl._global_forward_hooks
                or module_impl._global_forward_pre_hooks or module_impl._global_backward_hooks
                or module_impl._global_backward_pre_hooks
                or getattr(module_impl, "_global_forward_hooks_always_called", None))


class Modules:
    """nn.Module calls and attributes: the Interpreter's collaborator (interp.modules). It
    calls back into the interpreter (inline, call, the attribute protocol) and reads the
    trace state (overlay, lifted state, module scopes)."""

    __slots__ = ("_interp", "_state")

    def __init__(self, interp) -> None:
        self._interp = interp
        self._state = interp.state

    def call(self, mod: _Module, args: tuple, kwargs: dict) -> Any:
        paths = self._state.preserved.get(id(mod))
        with self._state.module_scope(mod):
            # preserve_module_call_signature (module_calls.py), by the path this call used
            path = self._state.module_stack[-1][1] if paths and self._state.module_stack else None
            if path in (paths or ()):
                return call_preserved(self._state, path, args, kwargs,
                                      lambda: self._call_module(mod, args, kwargs))
            return self._call_module(mod, args, kwargs)

    def _call_module(self, mod: _Module, args: tuple, kwargs: dict) -> Any:
        if isinstance(mod, torch.nn.RNNBase) and not DEFAULT_EXPORT_DYNAMO_CONFIG.allow_rnn:
            # torch.export's own switch (torch.export._trace.DEFAULT_EXPORT_DYNAMO_CONFIG).
            raise self._interp.refuse(
                Category.UNSUPPORTED_PYTHON,
                "Dynamo does not support RNN, GRU, or LSTM. (allow_rnn is off in "
                "torch.export's DEFAULT_EXPORT_DYNAMO_CONFIG)",
                hint="set DEFAULT_EXPORT_DYNAMO_CONFIG.allow_rnn = True (the default)")
        if isinstance(mod, torch.jit.ScriptModule):
            # torch.export strict refuses these too ("torch.jit.script/freeze modules").
            raise self._interp.refuse(
                Category.UNSUPPORTED_NATIVE,
                f"calling the TorchScript module {type(mod).__name__} "
                f"({getattr(mod, 'original_name', '?')}): its forward is compiled "
                "TorchScript, with no Python to interpret",
                hint="call the original nn.Module (before torch.jit.script) instead",
                operands=args)
        call = lookup_special(type(mod), "__call__")
        if call is not _module_call or _has_hooks(mod):
            # Hooks or a custom __call__: interpret the real call path, hooks included.
            return self._interp.call_unbound(call, mod, args, kwargs)
        forward = self.attr(mod, "forward")
        return self._interp.call(forward, args, kwargs)

    # ------------------------------------------------------------------ reads
    def attr(self, mod: _Module, name: str) -> Any:
        overlay = self._state.module_overlay.get((id(mod), name), _MISSING)
        if overlay is not _MISSING:
            return overlay
        tp = type(mod)
        descr = lookup_special(tp, name)
        if descr is not _MISSING and type(descr) is property:
            return self._interp.bind_descriptor(descr, mod, tp)
        namespace = mod.__dict__
        if name in namespace:
            value = namespace[name]
            if issubclass(type(value), torch.Tensor):
                return self._state.lift_module_tensor(mod, name, value)
            return value
        if descr is not _MISSING:
            if type(lookup_special(tp, "__getattribute__")) is types.FunctionType:
                return self._interp.generic_getattr(mod, name)
            return self._interp.bind_descriptor(descr, mod, tp)
        params = namespace.get("_parameters")
        if params is not None and name in params:
            value = params[name]
            return None if value is None else self._state.lift_module_tensor(mod, name, value)
        buffers = namespace.get("_buffers")
        if buffers is not None and name in buffers:
            value = buffers[name]
            return None if value is None else self._state.lift_module_tensor(mod, name, value)
        modules = namespace.get("_modules")
        if modules is not None and name in modules:
            child = modules[name]
            if child is not None:
                self._state.note_module_path(mod, name, child)
            return child
        getattr_impl = lookup_special(tp, "__getattr__")
        if getattr_impl is not _MISSING and getattr_impl is not _module_getattr:
            return self._interp.call_unbound(getattr_impl, mod, (name,))
        raise AttributeError(f"'{tp.__name__}' object has no attribute '{name}'")

    # ------------------------------------------------------------------ writes
    def set_attr(self, mod: _Module, name: str, value: Any) -> None:
        setattr_impl = lookup_special(type(mod), "__setattr__")
        if type(value) is TensorProxy:
            params = mod.__dict__.get("_parameters", {})
            if name in params:
                raise self._interp.refuse(
                    Category.SIDE_EFFECT,
                    f"assigning a computed tensor to parameter '{name}' of "
                    f"{type(mod).__name__} replaces model state",
                    hint="update the parameter in place under torch.no_grad(), or keep the "
                         "computed tensor in a local variable", operands=(value,))
            self._state.set_module_tensor(mod, name, value)
            return
        if setattr_impl is not _module_setattr and type(setattr_impl) is types.FunctionType:
            self._interp.inline(setattr_impl, (mod, name, value), {})
            return
        self._state.module_overlay.pop((id(mod), name), None)
        self._interp.inline(_module_setattr, (mod, name, value), {})

    def del_attr(self, mod: _Module, name: str) -> None:
        if self._state.module_overlay.pop((id(mod), name), _MISSING) is not _MISSING:
            return
        self._interp.inline(_module_delattr, (mod, name), {})
