"""When an op must be replaced by its CompositeImplicitAutograd decomposition, and whether that
is sound for the node's (possibly symbolic) inputs.

Two questions the schemas cannot answer alone:
- does a CompositeImplicitAutograd op whose schema looks functional write its inputs anyway
  (instance_norm updates running stats through views)? Asked once per op and constant
  arguments: the oracle records the decomposition on fakes and we look for writes to (or
  outputs sharing storage with) the inputs.
- is a decomposition recorded at the hint sizes valid for other sizes? The oracle runs at the
  hints, so a size the decomposition computes (`view(x, [32])` for flatten) would be baked in.
  For symbolic inputs we record the decomposition at a second set of sizes and accept it only
  if both recordings make the same calls with the same constant arguments.
"""
from __future__ import annotations

from typing import Any

import sympy
import torch

from ..ops.oracle.fakes import example_of, fake_mode
from ..ops.oracle.probe import probe
from ..proxy import TensorMeta, TensorProxy
from ..symbolic import SymValue
from .schema import is_cia, needs_decomposition

_hidden_cache: dict[Any, bool] = {}


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
    fake_args, fake_kwargs = _fakes(args, None), _fakes(kwargs, None)
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


def size_independent(op: Any, args: tuple, kwargs: dict, grad_enabled: bool) -> bool:
    """The decomposition makes the same calls, with the same constants, at the hint sizes and
    at other sizes (every size symbol one larger)."""
    if any(isinstance(v, SymValue) for v in _leaves((args, kwargs))):
        return False
    recordings = []
    for shifted in (False, True):
        try:
            fake_args, fake_kwargs = _fakes(args, shifted), _fakes(kwargs, shifted)
            result = probe(op, fake_args, fake_kwargs, grad_enabled, needs_decomposition)
        except Exception:
            return False
        recordings.append([(call.op, _shape_free(call.args), _shape_free(call.kwargs))
                           for call in result.calls])
    return recordings[0] == recordings[1]


def _leaves(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    return [value]


def _shape_free(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return ("T", value.dtype)
    if isinstance(value, (list, tuple)):
        return tuple(_shape_free(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _shape_free(v)) for k, v in value.items())
    return value


def _fakes(value: Any, shifted: bool | None) -> Any:
    """Fakes for the proxies in `value`: at the hints (None/False) or at shifted sizes.
    A symbolic scalar argument passes as its example value: a real op reading it natively
    would specialize it (a guard no user line asked for)."""
    if isinstance(value, SymValue):
        return value.example
    if isinstance(value, TensorProxy):
        return example_of(value.meta) if not shifted else _shifted_fake(value.meta)
    if isinstance(value, (list, tuple)):
        return (tuple if isinstance(value, tuple) else list)(_fakes(v, shifted) for v in value)
    if isinstance(value, dict):
        return {k: _fakes(v, shifted) for k, v in value.items()}
    return value


def _shifted_fake(meta: TensorMeta) -> torch.Tensor:
    shape = []
    for size in meta.shape:
        if isinstance(size, SymValue):
            env = size.env
            expr = env.resolve(size.expr)       # a size since pinned (weight shapes) stays put
            values = {s: (env.hint_value(s) or 0) + 1 for s in expr.free_symbols}
            shape.append(int(sympy.sympify(expr).xreplace(values)))
        else:
            shape.append(size)
    with fake_mode():
        t = torch.empty(shape, dtype=meta.dtype, device=meta.device)
        if meta.requires_grad:
            t.requires_grad_(True)
    return t
