"""The thread's torch state a trace enters and leaves many times (modes of the ops oracle,
grad mode, autocast): saved when export starts and put back when it ends, however it ends.

Each `with fake_mode():` in the tracer is balanced, but an interrupt (KeyboardInterrupt)
landing inside a context manager's __enter__, after it changed the state and before the
`with` body started, skips its __exit__: the user's later tensor ops would then run under a
FakeTensorMode. This is the safety net for that.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch._ops
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack, _pop_mode

_AUTOCAST_DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class TorchState:
    dispatch_modes: int
    pre_dispatch_modes: int
    function_modes: int
    grad_enabled: bool
    autocast: tuple
    autocast_cache: bool


def save() -> TorchState:
    return TorchState(
        dispatch_modes=torch._C._len_torch_dispatch_stack(),
        pre_dispatch_modes=torch._ops._len_torch_dispatch_stack_pre_dispatch(),
        function_modes=torch._C._len_torch_function_stack(),
        grad_enabled=torch.is_grad_enabled(),
        autocast=tuple((torch.is_autocast_enabled(d), torch.get_autocast_dtype(d))
                       for d in _AUTOCAST_DEVICES),
        autocast_cache=torch.is_autocast_cache_enabled())


def restore(saved: TorchState) -> None:
    """Pop modes pushed since `saved` and put grad mode and autocast back."""
    while torch._C._len_torch_dispatch_stack() > saved.dispatch_modes:
        top = _get_current_dispatch_mode_stack()[-1]
        _pop_mode(getattr(top, "_mode_key", None))    # infra modes (fake, ...) by their key
    while torch._ops._len_torch_dispatch_stack_pre_dispatch() > saved.pre_dispatch_modes:
        torch._ops._pop_mode_from_pre_dispatch()
    while torch._C._len_torch_function_stack() > saved.function_modes:
        torch._C._pop_torch_function_stack()
    torch._C._set_grad_enabled(saved.grad_enabled)
    for device, (enabled, dtype) in zip(_AUTOCAST_DEVICES, saved.autocast):
        torch.set_autocast_enabled(device, enabled)
        torch.set_autocast_dtype(device, dtype)
    torch.set_autocast_cache_enabled(saved.autocast_cache)
