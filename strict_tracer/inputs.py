"""Stage 1: flatten and validate the example inputs, create the user-input placeholders."""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch._subclasses.fake_tensor import is_fake

from .trace import traced_pytree
from .errors import UserInputError
from .known_containers import register_known_in
from .proxy import TensorMeta, TensorProxy
from .symbolic import dims as dim_specs
from .symbolic.input_symbols import InputSymbols, allocate
from .trace.trace_state import TraceState

CONSTANT_INPUT_TYPES = (int, float, bool, str, type(None), torch.dtype, torch.device)


@dataclass
class InputLeaf:
    name: str
    value: Any                     # the example value
    node: torch.fx.Node
    proxy: TensorProxy | None      # None for constant (non-tensor) inputs
    symbol: Any = None             # a dynamic int input's SymInt


@dataclass
class TracedInputs:
    args: tuple                    # the inputs as forward() sees them (tensors -> proxies)
    kwargs: dict
    in_spec: pytree.TreeSpec
    leaves: list[InputLeaf]
    forward_arg_names: list[str]
    symbols: InputSymbols | None = None     # what dynamic_shapes allocated (None: all static)


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


def prepare_inputs(mod: torch.nn.Module, args: tuple, kwargs: dict, state: TraceState,
                   dynamic_shapes: Any = None, interp: Any = None) -> TracedInputs:
    """Placeholders for the flattened inputs, and the inputs rebuilt around their proxies (a
    registered container's unflatten is interpreted when `interp` is given)."""
    sig = _forward_signature(mod)
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise UserInputError(f"the example inputs do not match {type(mod).__name__}.forward"
                             f"{sig}{_defined_at(mod)}: {exc}; pass example inputs that forward() "
                             "accepts (args positionally, kwargs by parameter name)") from None
    register_known_in((args, kwargs))
    flat, in_spec = pytree.tree_flatten_with_path((args, kwargs))
    paths = [path for path, _ in flat]
    names = _leaf_names(sig, paths)
    for (path, value), name in zip(flat, names):
        _check_leaf(value, name)
    shapes, int_symbols, symbols = _symbolic_shapes(mod, args, kwargs, dynamic_shapes, flat, state)
    leaves: list[InputLeaf] = []
    traced_values: list[Any] = []
    for index, ((path, value), name) in enumerate(zip(flat, names)):
        if isinstance(value, torch.Tensor):
            shape = shapes.get(index)
            meta = TensorMeta.from_tensor(value, shape)
            node = state.graph.user_placeholder(name, meta)
            state.example_inputs[node] = value
            proxy = TensorProxy(node, meta, f"input {name}")
            if shape is not None:
                state.sym_nodes.bind_input(node, shape)
            leaves.append(InputLeaf(name, value, node, proxy))
            traced_values.append(proxy)
        elif index in int_symbols:       # a dynamic int: its placeholder is the symbol's value
            sym = int_symbols[index]
            node = state.graph.user_placeholder(name, sym)
            state.sym_nodes.bind_value(sym.expr, node)
            leaves.append(InputLeaf(name, value, node, None, sym))
            traced_values.append(sym)
        else:
            node = state.graph.user_placeholder(name, None, value)
            leaves.append(InputLeaf(name, value, node, None))
            traced_values.append(value)
    if interp is None:
        traced_args, traced_kwargs = pytree.tree_unflatten(traced_values, in_spec)
    else:
        traced_args, traced_kwargs = traced_pytree.unflatten(interp, traced_values, in_spec)
    return TracedInputs(tuple(traced_args), dict(traced_kwargs), in_spec, leaves,
                        _forward_arg_names(sig, len(args), kwargs), symbols)


def _check_leaf(value: Any, name: str) -> None:
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter) and not is_fake(value):
            raise UserInputError(f"input '{name}' is a {type(value).__name__}; tensor subclasses "
                                 "are not supported: pass a plain torch.Tensor")
        problem = _unsupported_representation(value)
        if problem is not None:
            what, fix = problem
            raise UserInputError(f"input '{name}' is a {what} tensor; export traces dense "
                                 f"(strided) tensors only: {fix}")
    elif not isinstance(value, CONSTANT_INPUT_TYPES):
        raise UserInputError(
            f"input '{name}' has type {type(value).__name__}, which export cannot take as an "
            "input; pass tensors, Python scalars, strings, or containers registered with "
            "torch.utils._pytree")


def _unsupported_representation(value: torch.Tensor) -> tuple[str, str] | None:
    """(what it is, how to fix it) for tensors whose layout tracing cannot represent."""
    if value.is_nested:
        return "nested", "pass the padded tensor (t.to_padded_tensor(0.0)) and the lengths"
    if value.is_quantized:
        return "quantized", "pass t.dequantize(), or quantize inside forward()"
    if value.layout != torch.strided:
        return (f"{str(value.layout).replace('torch.', '')}",
                "pass t.to_dense() (and re-sparsify inside forward() if needed)")
    return None


def _symbolic_shapes(mod, args, kwargs, dynamic_shapes, flat, state) -> tuple[dict, dict, Any]:
    """Shapes with size symbols for the tensor leaves `dynamic_shapes` makes dynamic, and
    symbols for the int leaves it makes dynamic (both by leaf index)."""
    if dynamic_shapes is None:
        return {}, {}, None
    paths = [path for path, _ in flat]
    specs = dim_specs.parse_dynamic_shapes(mod, args, kwargs, dynamic_shapes, paths)
    keys = dim_specs.bound_paths(mod, paths)
    tensors, tensor_specs, indices, ints = [], [], [], []
    for index, ((path, value), spec) in enumerate(zip(flat, specs)):
        if isinstance(value, torch.Tensor):
            tensors.append((index, keys[index], value))
            tensor_specs.append(spec)
            indices.append(index)
        elif isinstance(spec, dim_specs.DimSpec):
            ints.append((index, keys[index], value, spec))
    shapes, int_values, symbols = allocate(state.shape_env, tensors, tensor_specs, ints)
    return (dict(zip(indices, shapes)), {leaf: v for (leaf, *_), v in zip(ints, int_values)},
            symbols)


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
