"""Running an exported graph on meta tensors, for the artifact check (artifact_check.py).

The meta kernels are the ones a fake-tensor run uses for sizes and their errors, without a
fake tensor's dispatch and cache. `MetaRun` also makes every device the graph names meta
(constructors, to()), and answers a call it has already run with the same argument metadata
from what that call returned: a model's layers repeat their calls, each decided once.

It is a torch-function mode: it sees the operators the graph's code calls (torch.ops.aten.*)
before a composite one (linear, scaled_dot_product_attention) decomposes, so a repeated call
is answered without entering the dispatcher, and a view runs as plain meta code (a dispatch
mode sees every operator a composite decomposes into: llama3-8b-32 dynamic ~48 -> ~29 ms a
run). Operators a composite calls get the devices it gives them, from its meta arguments.
A call whose output a few checks decide (linear, layer_norm, pointwise ops of contiguous
tensors: ops/oracle/hint_outputs.py) gets it without the kernel, whose Python meta function
costs ~100-500 us; outside those checks the kernel runs, and raises where it would.
"""
from __future__ import annotations

from typing import Any

import torch
from torch._ops import HigherOrderOperator, OpOverload
from torch.overrides import TorchFunctionMode

from ..ops.oracle.hint_outputs import known_output

META = torch.device("meta")


class MetaRun(TorchFunctionMode):
    """A torch-function mode for one run of a graph on meta tensors."""

    def __init__(self) -> None:
        super().__init__()
        self._results: dict[tuple, Any] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if type(func) is not OpOverload:
            if isinstance(func, HigherOrderOperator):
                # As under a dispatch mode: the fake run (artifact_check.py) runs it.
                raise NotImplementedError(f"the meta run does not run {func.name()}")
            return func(*args, **kwargs)    # a Tensor method or torch function a Python kernel calls
        if "device" in kwargs:
            kwargs = {**kwargs, "device": META}
        if any(isinstance(a, torch.device) for a in args):
            args = tuple(META if isinstance(a, torch.device) else a for a in args)
        key = _key(func, args, kwargs) if _fresh_outputs(func) else None
        if key is None:
            return func(*args, **kwargs)
        made = self._results.get(key)
        if made is not None:
            return _new_like(made)
        out = known_output(func, args, kwargs)      # linear, pointwise: without the kernel
        if out is None:
            out = func(*args, **kwargs)
        layout = _layout_of(out)
        if layout is not None:
            self._results[key] = layout
        return out


def _fresh_outputs(func) -> bool:
    """A functional op whose outputs alias nothing: a new output of the same layout stands for
    its result (a view must share its base's storage; a mutation changes its argument).
    Decided once per operator (its schema does not change)."""
    known = _FRESH.get(id(func))     # by id: an OpOverload's hash is a Python call
    if known is not None and known[0] is func:
        return known[1]
    schema = func._schema
    fresh = not schema.is_mutable and all(r.alias_info is None for r in schema.returns)
    _FRESH[id(func)] = (func, fresh)
    return fresh


_FRESH: dict[int, tuple] = {}       # id(operator) -> (operator, _fresh_outputs)


_SKIP = object()


def _key(func, args: tuple, kwargs: dict) -> tuple | None:
    parts: list[Any] = [id(func)]      # the graph keeps its operators alive during the run
    for value in (*args, *kwargs.items()):
        part = _part(value)
        if part is _SKIP:
            return None
        parts.append(part)
    return tuple(parts)


def _part(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor or value.layout is not torch.strided:
            return _SKIP
        return ("T", tuple(value.shape), value.stride(), value.storage_offset(), value.dtype,
                value.requires_grad)
    if isinstance(value, (list, tuple)):
        parts = tuple(_part(v) for v in value)
        return _SKIP if any(p is _SKIP for p in parts) else (type(value).__name__, parts)
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype, torch.device,
                                           torch.layout, torch.memory_format)):
        return (type(value).__name__, value)
    return _SKIP            # anything else (a SymInt, an opaque object): always run


def _layout_of(out: Any) -> Any:
    """What remakes `out` (None: it is not remade, the call runs each time)."""
    if isinstance(out, torch.Tensor):
        if type(out) is not torch.Tensor or out.layout is not torch.strided or \
                out.storage_offset() != 0:
            return None
        return ("T", tuple(out.shape), out.stride(), out.dtype)
    if type(out) in (list, tuple):
        parts = tuple(_layout_of(o) for o in out)
        return None if any(p is None for p in parts) else (type(out), parts)
    if out is None or isinstance(out, (bool, int, float)):
        return ("V", out)
    return None


def _new_like(made: Any) -> Any:
    tag = made[0]
    if tag == "T":
        return torch.empty_strided(made[1], made[2], dtype=made[3], device=META)
    if tag == "V":
        return made[1]
    return tag(_new_like(m) for m in made[1])
