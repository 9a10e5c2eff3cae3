"""Stage 1: flatten and validate the example inputs, create the user-input placeholders."""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree

from .errors import UserInputError
from .proxy import TensorMeta, TensorProxy
from .trace_state import TraceState

CONSTANT_INPUT_TYPES = (int, float, bool, str, type(None), torch.dtype, torch.device)


@dataclass
class InputLeaf:
    name: str
    value: Any                     # the example value
    node: torch.fx.Node
    proxy: TensorProxy | None      # None for constant (non-tensor) inputs


@dataclass
class TracedInputs:
    args: tuple                    # the inputs as forward() sees them (tensors -> proxies)
    kwargs: dict
    in_spec: pytree.TreeSpec
    leaves: list[InputLeaf]
    forward_arg_names: list[str]


def _path_part(key: Any) -> str:
    if isinstance(key, pytree.SequenceKey):
        return str(key.idx)
    if isinstance(key, pytree.MappingKey):
        return str(key.key)
    if isinstance(key, pytree.GetAttrKey):
        return key.name
    return str(key)


def _sanitize(name: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", name)
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def _forward_signature(mod: torch.nn.Module) -> inspect.Signature:
    try:
        return inspect.signature(mod.forward)
    except (TypeError, ValueError) as exc:
        raise UserInputError(f"cannot read the signature of {type(mod).__name__}.forward: {exc}") from None


def _leaf_names(sig: inspect.Signature, paths: list[tuple]) -> list[str]:
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    names: list[str] = []
    used: set[str] = set()
    for path in paths:
        top, first, rest = path[0], path[1], path[2:]
        if top.idx == 0:
            index = first.idx
            base = positional[index].name if index < len(positional) else f"{varargs}_{index - len(positional)}"
        else:
            base = str(first.key)
        name = _sanitize("_".join([base, *(_path_part(k) for k in rest)]))
        candidate, n = name, 1
        while candidate in used:
            candidate = f"{name}_{n}"
            n += 1
        used.add(candidate)
        names.append(candidate)
    return names


def prepare_inputs(mod: torch.nn.Module, args: tuple, kwargs: dict, state: TraceState) -> TracedInputs:
    sig = _forward_signature(mod)
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise UserInputError(f"the example inputs do not match {type(mod).__name__}.forward"
                             f"{sig}{_defined_at(mod)}: {exc}") from None
    flat, in_spec = pytree.tree_flatten_with_path((args, kwargs))
    names = _leaf_names(sig, [path for path, _ in flat])
    leaves: list[InputLeaf] = []
    traced_values: list[Any] = []
    for (path, value), name in zip(flat, names):
        if isinstance(value, torch.Tensor):
            if type(value) not in (torch.Tensor, torch.nn.Parameter):
                raise UserInputError(f"input '{name}' is a {type(value).__name__}; tensor subclasses "
                                     "are not supported")
            meta = TensorMeta.from_tensor(value)
            node = state.graph.user_placeholder(name, meta)
            proxy = TensorProxy(node, meta, f"input {name}")
            leaves.append(InputLeaf(name, value, node, proxy))
            traced_values.append(proxy)
        elif isinstance(value, CONSTANT_INPUT_TYPES):
            node = state.graph.user_placeholder(name, None, value)
            leaves.append(InputLeaf(name, value, node, None))
            traced_values.append(value)
        else:
            raise UserInputError(
                f"input '{name}' has type {type(value).__name__}, which export cannot take as an "
                "input; pass tensors, Python scalars, strings, or containers registered with "
                "torch.utils._pytree")
    traced_args, traced_kwargs = pytree.tree_unflatten(traced_values, in_spec)
    return TracedInputs(tuple(traced_args), dict(traced_kwargs), in_spec, leaves,
                        _forward_arg_names(sig, len(args), kwargs))


def _defined_at(mod: torch.nn.Module) -> str:
    """` (defined at file:line)` for the module's forward, when it is Python code."""
    code = getattr(type(mod).forward, "__code__", None)
    if code is None:
        return ""
    return f" (defined at {code.co_filename}:{code.co_firstlineno})"


def _forward_arg_names(sig: inspect.Signature, nargs: int, kwargs: dict) -> list[str]:
    """Names of the top-level inputs as torch.export records them (varargs as name_i)."""
    params = list(sig.parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    names = positional[:nargs] + [f"{varargs}_{i}" for i in range(nargs - len(positional))]
    return names + list(kwargs)
