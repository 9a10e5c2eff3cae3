"""preserve_module_call_signature: the inputs and outputs of chosen submodule calls.

torch.export.export(..., preserve_module_call_signature=("sub",)) records, for every call of
the submodule at path "sub", which graph values went in and came out, with the pytree specs of
the call's (args, kwargs) and result. `torch.export.unflatten` then rebuilds "sub" as a module
with exactly that calling convention, so it can be swapped for another implementation.

While tracing, a call of a preserved submodule leaves two boundary nodes in the graph (its
flat inputs on entry, its flat outputs on return). They are side-effectful, so no pass drops
them, and they take part in functionalization like any other reader, so they name the values
current at the call. Packaging reads them into the ModuleCallSignatures and erases them.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx
import torch.utils._pytree as pytree
from torch.export.exported_program import ModuleCallSignature
from torch.export.graph_signature import ConstantArgument, TensorArgument

from ..errors import UserInputError
from ..proxy import TensorProxy

INPUTS, OUTPUTS = "module_call_inputs", "module_call_outputs"


@torch.fx.node.has_side_effect
def module_call_boundary(*values: Any, kind: str, path: str) -> tuple:
    """Marks where a preserved submodule call takes `values` in (or gives them out)."""
    return values


def preserved_modules(root: torch.nn.Module, paths: Any) -> dict[int, set[str]]:
    """id(submodule) -> its paths among preserve_module_call_signature's (a submodule shared
    under two names has a signature per name: a call is recorded under the path it used)."""
    if isinstance(paths, str) or not isinstance(paths, (tuple, list)):
        raise UserInputError("preserve_module_call_signature must be a tuple of submodule paths, "
                             f"got {type(paths).__name__}")
    preserved: dict[int, set[str]] = {}
    for path in paths:
        if not isinstance(path, str) or not path:
            raise UserInputError(f"preserve_module_call_signature: {path!r} is not the path of a "
                                 "submodule (the root module's signature is always kept)")
        try:
            module = root.get_submodule(path)
        except AttributeError as e:
            raise UserInputError(f"preserve_module_call_signature: {e}") from None
        preserved.setdefault(id(module), set()).add(path)
    return preserved


def _flat(values: Any, path: str, what: str) -> tuple[list, pytree.TreeSpec]:
    flat, spec = pytree.tree_flatten(values)
    for value in flat:
        if not isinstance(value, (TensorProxy, str, int, float, bool)) and value is not None:
            raise UserInputError(
                f"preserve_module_call_signature: the {what} of the call of '{path}' include a "
                f"{type(value).__name__}; only tensors and constants (str, int, float, bool, None) "
                "can cross a preserved module boundary")
        if isinstance(value, (int, float, bool)) and not type(value) in (int, float, bool):
            raise UserInputError(
                f"preserve_module_call_signature: the {what} of the call of '{path}' include a "
                f"symbolic {type(value).__name__}; a preserved signature takes tensors and constants "
                "only (as in torch.export)")
    return flat, spec


def _boundary(state: Any, kind: str, path: str, flat: list) -> None:
    args = tuple(v.node if isinstance(v, TensorProxy) else v for v in flat)
    state.graph.call(module_call_boundary, args, {"kind": kind, "path": path})


def call_preserved(state: Any, path: str, args: tuple, kwargs: dict, call: Any) -> Any:
    """Run `call()` (the submodule call) between boundary nodes; record its specs."""
    flat_in, in_spec = _flat((args, kwargs), path, "inputs")
    _boundary(state, INPUTS, path, flat_in)
    result = call()
    flat_out, out_spec = _flat(result, path, "outputs")
    _boundary(state, OUTPUTS, path, flat_out)
    known = state.module_call_specs.get(path)
    if known is not None and (known["in_spec"], known["out_spec"]) != (in_spec, out_spec):
        raise UserInputError(
            f"preserve_module_call_signature: '{path}' is called with different input or output "
            f"structures ({known['in_spec']} -> {known['out_spec']} vs {in_spec} -> {out_spec}); "
            "a preserved signature must be the same for every call")
    state.module_call_specs[path] = {"in_spec": in_spec, "out_spec": out_spec}
    return result


def _argument(value: Any) -> Any:
    if isinstance(value, torch.fx.Node):
        return TensorArgument(name=value.name)
    return ConstantArgument(name="", value=value)


def collect_signatures(graph: torch.fx.Graph, specs: dict[str, dict]) -> dict[str, ModuleCallSignature]:
    """The ModuleCallSignature of each preserved call, read from the boundary nodes (which are
    erased). As in torch.export, the n-th call (n >= 1) of a path is entry `path@n`."""
    signatures: dict[str, ModuleCallSignature] = {}
    calls: dict[str, int] = {}
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not module_call_boundary:
            continue
        path, kind = node.kwargs["path"], node.kwargs["kind"]
        if kind == INPUTS:
            calls[path] = calls.get(path, -1) + 1
        n = calls.get(path, 0)
        name = f"{path}@{n}" if n else path
        signature = signatures.get(name)
        if signature is None:
            spec = specs[path]
            signature = signatures[name] = ModuleCallSignature(
                inputs=[], outputs=[], in_spec=spec["in_spec"], out_spec=spec["out_spec"],
                forward_arg_names=None)
        target = signature.inputs if kind == INPUTS else signature.outputs
        target.extend(_argument(a) for a in node.args)
        graph.erase_node(node)
    return signatures
