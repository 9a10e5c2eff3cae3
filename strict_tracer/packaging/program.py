"""Stage 6: turn a traced graph into a real torch.export.ExportedProgram.

Every node gets `meta["val"]` (fake tensors of one FakeTensorMode whose ShapeEnv holds a
torch symbol for each of ours), the signature lists lifted parameters/buffers/constants and
user inputs/outputs, and the program carries state_dict, constants and the module call graph
with the pytree specs, so `.module()`, save/load and run_decompositions work on it.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx
from torch._export.verifier import TrainingIRVerifier, Verifier
from torch.export.exported_program import ExportedProgram, ModuleCallEntry, ModuleCallSignature
from torch.export.graph_signature import (ConstantArgument, ExportGraphSignature, InputKind,
                                          InputSpec, OutputKind, OutputSpec, SymBoolArgument,
                                          SymFloatArgument, SymIntArgument, TensorArgument)
from torch.fx.passes.shape_prop import TensorMetadata, _extract_tensor_metadata

from ..trace.graph import BUFFER, CONSTANT, PARAMETER, LiftedInput
from ..hops.naming import subgraph_modules
from ..trace.module_calls import collect_signatures
from ..trace.results import FunctionalProgram, TraceResult
from ..trace.source_fns import annotate_lifted_placeholders
from .shared_sym_nodes import sharing
from .torch_symbols import TorchSymbols
from ..proxy import TensorMeta
from ..stage_log import Stages
from ..symbolic import SymValue

_INPUT_KIND = {PARAMETER: InputKind.PARAMETER, BUFFER: InputKind.BUFFER, CONSTANT: InputKind.CONSTANT_TENSOR}


def _attach_vals(graph: torch.fx.Graph, symbols: TorchSymbols) -> None:
    nodes, items = [], []
    for node in graph.nodes:
        meta = node.meta.pop("st_meta", None)
        value = node.meta.pop("st_value", None)
        node.meta.pop("st_grad", None)
        node.meta.pop("st_autocast", None)
        node.meta.pop("st_where", None)
        nodes.append((node, meta, value))
        if isinstance(meta, (TensorMeta, SymValue)):
            items.append(meta)
        elif isinstance(meta, (list, tuple)):    # multi-output ops; control-flow operators
            items.extend(meta)
    # Every value of the graph in one batch, in node order (TorchSymbols.values).
    vals = iter(symbols.values(items))
    for node, meta, value in nodes:
        if isinstance(meta, TensorMeta):
            val = next(vals)
            node.meta["val"] = val
            node.meta["tensor_meta"] = _tensor_metadata(val, meta)
        elif isinstance(meta, (list, tuple)):
            node.meta["val"] = type(meta)(next(vals) for _ in meta)
        elif isinstance(meta, SymValue):
            node.meta["val"] = next(vals)
        elif node.op == "placeholder":
            node.meta["val"] = value


def _tensor_metadata(val: torch.Tensor, meta: TensorMeta) -> TensorMetadata:
    """torch's `_extract_tensor_metadata(val)`, with the memory format computed from the sizes
    and strides at their hints. torch decides it with guard_or_false/guard_or_true, which for
    sizes that have hints (all but data-dependent ones) evaluate at the hints; its version
    runs that symbolically (~1 ms per node). Tensors with unbacked sizes use torch's."""
    if meta.layout is not torch.strided or val.is_quantized:
        return _extract_tensor_metadata(val)
    shape, strides = val.shape, val.stride()
    if meta.is_static:      # its sizes and strides are their own hints
        memory_format = _memory_format(meta.shape, meta.strides)
    else:
        hints = [_hint(v) for v in (*shape, *strides)]
        if None in hints:
            return _extract_tensor_metadata(val)
        memory_format = _memory_format(hints[:len(shape)], hints[len(shape):])
    return TensorMetadata(shape, val.dtype, val.requires_grad, strides, memory_format, False, {})


def _hint(v: Any) -> int | None:
    if type(v) is int:
        return v
    hint = v.node.hint
    return None if hint is None else int(hint)


def _memory_format(shape: tuple, strides: tuple) -> torch.memory_format | None:
    """The first of contiguous / channels_last / channels_last_3d whose dense order the
    strides follow (size-1 dims ignored), as torch._prims_common decides it."""
    ndim = len(shape)
    if math.prod(shape) < 2 or _dense(shape, strides, range(ndim - 1, -1, -1)):
        return torch.contiguous_format
    if ndim == 4 and _dense(shape, strides, (1, 3, 2, 0)):
        return torch.channels_last
    if ndim == 5 and _dense(shape, strides, (1, 4, 3, 2, 0)):
        return torch.channels_last_3d
    return None


def _dense(shape: tuple, strides: tuple, order) -> bool:
    expected = 1
    for i in order:
        if shape[i] == 1:
            continue
        if strides[i] != expected:
            return False
        expected *= shape[i]
    return True


def _attach_unbacked_bindings(symbols: TorchSymbols) -> None:
    for symbol in symbols.unbacked:
        bindings = symbols.unbacked_bindings(symbol)
        if bindings:
            node = symbols.sym_nodes.bindings[symbol].node
            node.meta.setdefault("unbacked_bindings", {}).update(bindings)


def input_specs(result: TraceResult) -> list[InputSpec]:
    """The program's input specs: placeholders in graph order, lifted ones by kind."""
    specs: list[InputSpec] = []
    lifted_by_node = {l.node: l for l in result.graph.lifted}
    user_by_node = {leaf.node: leaf for leaf in result.inputs.leaves}
    for node in result.graph.graph.nodes:
        if node.op != "placeholder":
            continue
        if node in lifted_by_node:
            lifted: LiftedInput = lifted_by_node[node]
            persistent = lifted.persistent if lifted.kind in (BUFFER, CONSTANT) else None
            specs.append(InputSpec(_INPUT_KIND[lifted.kind], TensorArgument(node.name), lifted.target,
                                   persistent))
        else:
            leaf = user_by_node[node]
            if leaf.proxy is not None:
                arg = TensorArgument(node.name)
            elif leaf.symbol is not None:
                arg = SymIntArgument(node.name)      # a dynamic int input (specialized or not)
            else:
                arg = ConstantArgument(node.name, leaf.value)
            specs.append(InputSpec(InputKind.USER_INPUT, arg, None, None))
    return specs


def _output_specs(kinds: tuple, output_node: torch.fx.Node) -> list[OutputSpec]:
    specs = []
    kinds = kinds or [(OutputKind.USER_OUTPUT, None)] * len(output_node.args[0])
    for value, (kind, target) in zip(output_node.args[0], kinds):
        if isinstance(value, torch.fx.Node):
            arg = _argument(value)
        else:
            arg = ConstantArgument("", value)
        specs.append(OutputSpec(kind, arg, target))
    return specs


def _argument(node: torch.fx.Node) -> Any:
    val = node.meta.get("val")
    if isinstance(val, torch.SymInt):
        return SymIntArgument(node.name)
    if isinstance(val, torch.SymFloat):
        return SymFloatArgument(node.name)
    if isinstance(val, torch.SymBool):
        return SymBoolArgument(node.name)
    return TensorArgument(node.name)


def _state_dict_and_constants(result: TraceResult) -> tuple[dict, dict]:
    root = result.root
    state_dict: dict[str, torch.Tensor] = {}
    # Every name of a shared (aliased) parameter or buffer, as torch.export's state_dict has.
    for name, param in root.named_parameters(remove_duplicate=False):
        state_dict[name] = param
    non_persistent: set[str] = set()
    for mod_name, mod in root.named_modules(remove_duplicate=False):
        for buf_name in mod._non_persistent_buffers_set:
            non_persistent.add(f"{mod_name}.{buf_name}" if mod_name else buf_name)
    for name, buf in root.named_buffers(remove_duplicate=False):
        if name not in non_persistent:
            state_dict[name] = buf
    constants: dict[str, Any] = {}
    for lifted in result.graph.lifted:
        if lifted.kind == CONSTANT or (lifted.kind == BUFFER and not lifted.persistent):
            constants[lifted.target] = lifted.tensor
    return state_dict, constants


def _module_call_graph(result: TraceResult, preserved: dict[str, ModuleCallSignature]
                       ) -> list[ModuleCallEntry]:
    """The root's signature, every submodule (with its signature when preserved), then the
    repeated calls of preserved submodules (`path@n`), in torch.export's order."""
    signature = ModuleCallSignature(
        inputs=[], outputs=[], in_spec=result.inputs.in_spec, out_spec=result.out_spec,
        forward_arg_names=result.inputs.forward_arg_names)
    entries = [ModuleCallEntry("", signature)]
    names = [name for name, _ in result.root.named_modules(remove_duplicate=False) if name]
    for name in names:
        entries.append(ModuleCallEntry(name, preserved.get(name)))
    known = set(names)
    entries += [ModuleCallEntry(name, sig) for name, sig in preserved.items() if name not in known]
    return entries


def package(program: FunctionalProgram | TraceResult,
            stages: Stages | None = None) -> ExportedProgram:
    """The ExportedProgram of a functionalized trace (export()), or of a trace as it was
    captured (torch.export's training IR, for comparisons with torch.export)."""
    functional = isinstance(program, FunctionalProgram)
    result = program.trace if functional else program
    stages = stages or Stages("package")
    graph = result.graph.graph
    symbols = TorchSymbols(result.shape_env, result.inputs, result.sym_nodes)
    annotate_lifted_placeholders(graph, {lifted.node for lifted in result.graph.lifted})
    # Metadata queries are not program guards; torch's SymInt arithmetic for the node values
    # is done once per expression (shared_sym_nodes.py).
    with symbols.shape_env.suppress_guards(), sharing():
        _attach_vals(graph, symbols)
        subgraphs = subgraph_modules(graph, result.graph.submodules,
                                     lambda g: _attach_vals(g, symbols))
        _attach_unbacked_bindings(symbols)
    with stages.part("solve"):
        symbols.add_guards()
        symbols.shape_env.pending_fresh_unbacked_symbols.clear()   # bound by our nodes already
        range_constraints = symbols.range_constraints(symbols.unbacked)
    preserved = collect_signatures(graph, result.module_call_specs)
    output_node = next(n for n in reversed(graph.nodes) if n.op == "output")
    output_specs = _output_specs(program.output_kinds if functional else (), output_node)
    signature = ExportGraphSignature(input_specs(result), output_specs)
    state_dict, constants = _state_dict_and_constants(result)
    root = torch.nn.Module()
    for name, module in subgraphs.items():
        root.add_module(name, module)
    verifiers = [Verifier] if functional else [TrainingIRVerifier]
    ep = ExportedProgram(
        root=root,
        graph=graph,
        graph_signature=signature,
        state_dict=state_dict,
        range_constraints=range_constraints,
        module_call_graph=_module_call_graph(result, preserved),
        example_inputs=(result.example_args, result.example_kwargs),
        constants=constants,
        verifiers=verifiers,
    )
    if isinstance(result.root, torch.fx.GraphModule) and "custom" in result.root.meta:
        ep.graph_module.meta["custom"] = result.root.meta["custom"]   # kept through re-export
    return ep
