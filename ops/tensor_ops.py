"""Which native callables are tensor operations (resolved through the oracle to ATen)."""
from __future__ import annotations

import types
from typing import Any

import torch

# Native namespaces whose functions are ATen bindings.
_TORCH_NATIVE_MODULES = frozenset({
    "torch", "torch._C._VariableFunctions", "torch._C._nn", "torch._C._linalg", "torch._C._fft",
    "torch._C._special", "torch._C._nested", "torch._C._sparse",
})
_VARIABLE_FUNCTIONS = torch._C._VariableFunctions
_TENSOR_BASE = torch._C.TensorBase


def is_tensor_op(fn: Any) -> bool:
    """True for native torch callables that compute on tensors (ATen bindings and overloads)."""
    if isinstance(fn, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return True
    t = type(fn)
    if t is types.BuiltinFunctionType:
        self_obj = getattr(fn, "__self__", None)
        if self_obj is _VARIABLE_FUNCTIONS:
            return True
        if isinstance(self_obj, types.ModuleType):
            return self_obj.__name__ in _TORCH_NATIVE_MODULES
        if getattr(fn, "__module__", None) in _TORCH_NATIVE_MODULES and self_obj is None:
            return True
        return isinstance(self_obj, type) and issubclass(self_obj, _TENSOR_BASE)
    if t in (types.MethodDescriptorType, types.WrapperDescriptorType, types.GetSetDescriptorType):
        return getattr(fn, "__objclass__", None) is _TENSOR_BASE
    return False
