"""References in call templates (ops.dispatch): how a template names the tensors and values
of the calls it recorded, so that a replay can resolve them to the proxies of a new call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensor

from .oracle.fakes import is_static, view_key


class UnsupportedCall(Exception):
    """The oracle could not produce a graph for this call (data-dependent output, ...)."""

    def __init__(self, message: str, data_dependent: bool = False):
        super().__init__(message)
        self.data_dependent = data_dependent


@dataclass(frozen=True)
class InRef:
    index: int              # index into the flattened proxy leaves of the call


@dataclass(frozen=True)
class OutRef:
    call: int               # index of the recorded call
    item: int | None        # element of a tuple/list output, None for a single tensor


@dataclass(frozen=True)
class SymRef:
    expr: Any               # torch expression over the template's stand-in symbols
    torch_type: type        # torch.SymInt / SymFloat / SymBool


@dataclass(frozen=True)
class ConstTensor:
    tensor: torch.Tensor    # a real tensor created by the callable itself (torch.tensor(...))


class Refs:
    """How a template refers to the tensors and values of the recorded calls: inputs by
    position, outputs of earlier calls by (call, item), other tensors as constants."""

    def __init__(self, input_fakes: list[torch.Tensor]) -> None:
        self.refs: dict[int, Any] = {id(f): InRef(i) for i, f in enumerate(input_fakes)}
        self.by_view: dict[tuple, Any] = {}      # identical views of one storage -> ref

    def ref_of(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            r = self.refs.get(id(value))
            if r is not None:
                return r
            if isinstance(value, FakeTensor):
                # Factories re-wrap their result (autograd's make_variable makes a shallow copy
                # when the tensor is shared): same storage and view, new Python object.
                r = self.by_view.get(view_key(value))
                if r is None:
                    raise UnsupportedCall("the call used a tensor the tracer does not know")
                return r
            return ConstTensor(value)
        if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
            items = [self.ref_of(v) for v in value]
            if type(value) in (list, tuple):
                return type(value)(items)
            if hasattr(value, "_fields") or is_structseq(value):
                return StructRef(type(value), tuple(items))
            return tuple(items)
        if isinstance(value, dict):
            return {k: self.ref_of(v) for k, v in value.items()}
        if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
            # The expression as recorded: torch's own replacements in its throwaway env
            # are not ours to apply.
            return SymRef(value.node._expr, type(value))
        return value




@dataclass(frozen=True)
class StructRef:
    type: type
    items: tuple


def is_structseq(value: Any) -> bool:
    return type(value).__module__ == "torch.return_types"


def mixed_refs(out: Any, call: int, refs: Refs) -> tuple:
    """A tuple of tensors and numbers: each tensor by its place among the call's tensors."""
    tensors = iter(range(len(out)))
    return tuple(OutRef(call, next(tensors)) if isinstance(o, torch.Tensor) else refs.ref_of(o)
                 for o in out)
