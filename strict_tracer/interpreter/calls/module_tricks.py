"""Everyday module tricks inside forward(), as torch.export records them.

- `self.register_buffer("cache", x * 2)` with a computed tensor: stored like `self.cache =
  x * 2` (the module-attribute overlay: later reads in forward see it, nothing is written to
  the real module). A new name is a temporary of the program, as in torch.export; an existing
  buffer is assigned (a BUFFER_MUTATION).
- TorchScript functions (`@torch.jit.script`, `torch.jit.trace` of a function) called from
  forward are interpreted from the Python function they were made from (TorchScript keeps it,
  as torch.export's Dynamo inlines it).
"""
from __future__ import annotations

import torch

from ...errors import Category
from ...proxy import TensorProxy
from ..registry import CALL_SPECIAL, special

_register_buffer = torch.nn.Module.register_buffer


@special(_register_buffer)
def _register_computed_buffer(interp, args, kwargs):
    bound = _bind(args, kwargs)
    if bound is None or type(bound["tensor"]) is not TensorProxy:
        return interp.inline(_register_buffer, args, kwargs)
    mod, name = bound["self"], bound["name"]
    _check_buffer_name(interp, mod, name)
    interp.modules.set_attr(mod, name, bound["tensor"])
    return None


def _bind(args: tuple, kwargs: dict) -> dict | None:
    names = ("self", "name", "tensor", "persistent")
    if len(args) > len(names) or any(k not in names for k in kwargs):
        return None
    bound = {**dict(zip(names, args)), **kwargs}
    return bound if "name" in bound and "tensor" in bound and "self" in bound else None


def _check_buffer_name(interp, mod: torch.nn.Module, name) -> None:
    """Module.register_buffer's own checks on the name."""
    if not isinstance(name, str):
        raise TypeError(f"buffer name should be a string. Got {torch.typename(name)}")
    if "." in name:
        raise KeyError('buffer name can\'t contain "."')
    if name == "":
        raise KeyError('buffer name can\'t be empty string ""')
    buffers = mod.__dict__.get("_buffers", {})
    if name in buffers:
        return
    try:
        interp.load_attr(mod, name)
    except AttributeError:
        return
    raise KeyError(f"attribute '{name}' already exists")


def _call_script_function(interp, fn, args, kwargs):
    original = getattr(fn, "_torchdynamo_inline", None)
    if original is None or not callable(original):
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"TorchScript function {getattr(fn, 'qualified_name', fn)} has no Python function "
            "to interpret (it was not made by torch.jit.script or torch.jit.trace of one)",
            hint="call the original Python function instead of the TorchScript one",
            operands=args)
    return interp.call(original, args, kwargs)


CALL_SPECIAL[torch.jit.ScriptFunction] = _call_script_function
