"""When an op must be replaced by its CompositeImplicitAutograd decomposition, and whether that
is sound for the node's (possibly symbolic) inputs.

Two questions the schemas cannot answer alone:
- does a CompositeImplicitAutograd op whose schema looks functional write its inputs anyway
  (instance_norm updates running stats through views)? Asked once per op and constant
  arguments: the oracle records the decomposition on fakes and we look for writes to (or
  outputs sharing storage with) the inputs.
- does an op that converts (`aten.to`) return its input for every size alike?
A decomposition itself is recorded on symbolic stand-ins of the sizes (ops.dispatch), so the
sizes it computes stay symbolic and the facts its routing relied on are guards.
"""
from __future__ import annotations

from typing import Any

import torch

from ..ops.oracle.fakes import example_of
from ..ops.oracle.probe import probe
from ..proxy import TensorProxy
from ..symbolic import SymValue
from .schema import is_cia, needs_decomposition

_hidden_cache: dict[Any, bool] = {}
aten = torch.ops.aten
_DROPOUTS = frozenset({aten.dropout.default, aten.feature_dropout.default,
                       aten.alpha_dropout.default, aten.feature_alpha_dropout.default})


_DROPOUT_IDS = frozenset(map(id, _DROPOUTS))     # asked of every node: no OpOverload hash


def identity_dropout(node: torch.fx.Node) -> bool:
    """A dropout in eval mode or with p == 0: ATen returns its input tensor unchanged."""
    if id(node.target) not in _DROPOUT_IDS or len(node.args) != 3 or node.kwargs:
        return False
    _, p, train = node.args
    return train is False or (type(p) in (int, float) and p == 0)


def _const_key(value: Any) -> Any:
    if isinstance(value, TensorProxy):
        return ("T", value.meta.dtype, value.meta.requires_grad)
    if isinstance(value, (list, tuple)):
        return tuple(_const_key(v) for v in value)
    if isinstance(value, SymValue):
        return ("S",)
    if isinstance(value, dict):
        return tuple((k, _const_key(v)) for k, v in value.items())
    return value


def _storages(value: Any) -> list[int]:
    if isinstance(value, torch.Tensor):
        return [value.untyped_storage()._cdata]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _storages(v)]
    return []


def hides_writes(op: Any, args: tuple, kwargs: dict, grad_enabled: bool) -> bool:
    """True when `op` (CompositeImplicitAutograd, functional-looking schema) writes or aliases
    its inputs in its decomposition for arguments like these."""
    if not is_cia(op):
        return False
    try:
        key = (op, grad_enabled, _const_key(args), _const_key(kwargs))
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _hidden_cache:
        return _hidden_cache[key]
    fake_args, fake_kwargs = _fakes(args), _fakes(kwargs)
    inputs = set(_storages((fake_args, fake_kwargs)))
    try:
        result = probe(op, fake_args, fake_kwargs, grad_enabled, needs_decomposition)
    except Exception:        # the decomposition does not run on fakes: trust the schema
        hidden = False
    else:
        hidden = any(_writes_inputs(call, inputs) for call in result.calls) or \
            bool(inputs & set(_storages(result.output)))
    if key is not None:
        _hidden_cache[key] = hidden
    return hidden


def _writes_inputs(call: Any, inputs: set[int]) -> bool:
    schema = call.op._schema
    for i, arg in enumerate(schema.arguments):
        if arg.alias_info is None or not arg.alias_info.is_write:
            continue
        value = call.args[i] if i < len(call.args) and not arg.kwarg_only else call.kwargs.get(arg.name)
        if inputs & set(_storages(value)):
            return True
    return False


# ---------------------------------------------------------------- symbolic inputs
_CONVERSIONS = frozenset({torch.ops.aten.to.device, torch.ops.aten.to.dtype,
                          torch.ops.aten.to.dtype_layout})


def aliasing_is_size_independent(op: Any, args: tuple, kwargs: dict) -> bool:
    """Whether `op` returns its input or a new tensor for every size alike. A conversion
    (`aten.to`) returns its input exactly when dtype, layout and device already match and no
    copy is asked for; only a requested memory format makes that depend on the strides, hence
    on the sizes."""
    if op not in _CONVERSIONS:
        return False
    names = [a.name for a in op._schema.arguments]
    memory_format = dict(zip(names, args)).get("memory_format", kwargs.get("memory_format"))
    return memory_format in (None, torch.preserve_format)


def _fakes(value: Any) -> Any:
    """Fakes for the proxies in `value`, at the hints. A symbolic scalar argument passes as its
    example value: a real op reading it natively would specialize it (a guard no user line
    asked for)."""
    if isinstance(value, SymValue):
        return value.example
    if isinstance(value, TensorProxy):
        return example_of(value.meta)
    if isinstance(value, (list, tuple)):
        return (tuple if isinstance(value, tuple) else list)(_fakes(v) for v in value)
    if isinstance(value, dict):
        return {k: _fakes(v) for k, v in value.items()}
    return value
