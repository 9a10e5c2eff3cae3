"""Artifact validity: before export() returns, the program prints, generates code and runs.

A program that cannot be printed (an opaque object's repr pasted into code), or that fails at
sizes its range constraints admit (a layout decided from the example sizes), is refused with
an InternalTracerError naming the problem instead of being handed to the user. The run is
cheap: every input is a meta tensor (no data; a fake one where meta tensors cannot run the
graph), run once at the example sizes moved by one
within each dynamic dim's range (a static program is only printed and compiled), and output
sizes are compared with the ones the program states.
"""
from __future__ import annotations

import math
from typing import Any

import sympy
import torch
from torch._subclasses.fake_tensor import (DataDependentOutputException,
                                           DynamicOutputShapeException, FakeTensorMode)
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind
from torch.fx.experimental.symbolic_shapes import (GuardOnDataDependentSymNode, ShapeEnv,
                                                   compute_unbacked_bindings)
from torch.fx.graph import dtype_abbrs

from ..errors import InternalTracerError
from ..ops.oracle.fakes import metadata_fake_mode
from .meta_run import META, MetaRun

_DATA_DEPENDENT = (DataDependentOutputException, DynamicOutputShapeException,
                   GuardOnDataDependentSymNode)
_ASSERT_FAILED = "Runtime assertion failed"
# A kernel that reads its input's values (tensor_split's indices tensor) on a fake tensor.
_NEEDS_DATA = "data is not allocated yet"
# A custom op whose fake kernel export inferred from its real output (real-tensor propagation,
# interpreter/calls/inferred_kernels.py): only its real kernel can run it.
_NO_FAKE_KERNEL = "There was no fake impl registered"


def check_artifact(ep: ExportedProgram, compiled: bool = False) -> None:
    """Refuse `ep` if it does not print, generate code, or run at other admitted sizes.

    `compiled`: ExportedProgram() has just generated and compiled the graph's code (its
    GraphModule does at construction); only its fallback for code that does not compile
    (a GraphModule compiled from an empty graph) is looked for then, not a second codegen."""
    try:
        if not compiled:
            compile(ep.graph.python_code("self").src, "<exported program>", "exec")
        elif _compiled_from_empty_graph(ep):
            raise SyntaxError("the generated code of the graph does not compile")
        if compiled and _plain_values(ep):
            # The graph's printed form is its code (compiled above) annotated with the values
            # of _plain_values, which print: the rest of str(ep) is printed.
            str(ep.graph_signature)
            str(ep.range_constraints)
        else:
            str(ep)
    except Exception as exc:    # noqa: BLE001 - any failure here is a broken artifact
        raise _broken("cannot be printed or turned into Python code", exc) from None
    for assignment in _size_assignments(ep):
        outcome = _run_at(ep, assignment)
        if outcome != "assert":     # ran (or cannot run without data), or refused above
            return


def _compiled_from_empty_graph(ep: ExportedProgram) -> bool:
    global _EMPTY_CODE
    if _EMPTY_CODE is None:
        _EMPTY_CODE = torch.fx.Graph().python_code("self").src
    nodes = ep.graph.nodes
    return ep.graph_module.code == _EMPTY_CODE and \
        not (len(nodes) == 1 and next(iter(nodes)).op == "output")


_EMPTY_CODE: str | None = None


def _plain_values(ep: ExportedProgram) -> bool:
    """Every node value of every graph is a strided tensor of a dtype the printer abbreviates,
    a symbolic or plain number, None, or a sequence of those."""
    return all(_plain(node.meta.get("val")) for module in ep.graph_module.modules()
               if isinstance(module, torch.fx.GraphModule) for node in module.graph.nodes)


def _plain(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.layout is torch.strided and value.dtype in dtype_abbrs
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (int, float, bool, torch.SymInt, torch.SymFloat,
                                               torch.SymBool))


def _size_assignments(ep: ExportedProgram) -> list[dict]:
    """Values for the program's backed size symbols: each moved by one within its range
    (up first, then down), then doubled. None for a static program: its metadata came from
    running its ops at exactly the example sizes, so a run there would show nothing new."""
    symbols = _input_symbols(ep)
    candidates = []
    for step in (lambda v: v + 1, lambda v: v - 1, lambda v: 2 * v):
        moved = {}
        for sym, hint in symbols.items():
            value = step(hint)
            rng = ep.range_constraints.get(sym)
            if rng is not None and not (rng.lower <= value <= rng.upper):
                value = hint
            moved[sym] = value
        if moved != symbols and moved not in candidates:
            candidates.append(moved)
    return candidates


def _input_symbols(ep: ExportedProgram) -> dict:
    """Each size symbol of the user inputs -> its example value."""
    symbols: dict = {}
    for node in ep.graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        sizes = tuple(val.shape) if isinstance(val, torch.Tensor) else (val,)
        for size in sizes:
            if isinstance(size, torch.SymInt):
                shape_env = size.node.shape_env
                hints = shape_env.backed_var_to_val if hasattr(shape_env, "backed_var_to_val") \
                    else shape_env.var_to_val
                for sym in size.node.expr.free_symbols:
                    hint = hints.get(sym)
                    if hint is not None:
                        symbols[sym] = int(hint)
    return symbols


def _run_at(ep: ExportedProgram, assignment: dict) -> str:
    """Run the graph on inputs of the sizes `assignment` gives: "ok", "assert" (a runtime
    assertion rejected these sizes) or "data" (needs tensor data). It runs on meta tensors
    first; what that cannot decide (it raised) is run on fake tensors."""
    inputs = _meta_inputs(ep, assignment)
    if not _input_guards_hold(ep, inputs):
        return "assert"         # ep.module() would reject these sizes before the graph runs
    try:
        with MetaRun():
            outputs = ep.graph_module(*inputs)
    except Exception as exc:   # noqa: BLE001 - decided by the fake run below
        if _ASSERT_FAILED in str(exc):
            return "assert"     # the sizes are concrete: the fake run would fail it too
        return _run_fake_at(ep, assignment)
    _check_output_sizes(ep, outputs, assignment, inputs)
    return "ok"


def _meta_inputs(ep: ExportedProgram, assignment: dict) -> list:
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"]
    inputs = []
    for node, spec in zip(placeholders, ep.graph_signature.input_specs):
        val = node.meta.get("val")
        if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            real = ep.state_dict.get(spec.target)
            val = ep.constants[spec.target] if real is None else real
            if not isinstance(val, torch.Tensor):
                inputs.append(val)
                continue
        if isinstance(val, torch.Tensor):
            shape = [_at(s, assignment) for s in val.shape]
            strides = [_at(s, assignment) for s in val.stride()]
            inputs.append(torch.empty_strided(shape, strides, dtype=val.dtype, device=META,
                                              requires_grad=val.requires_grad))
        else:
            inputs.append(_at(val, assignment) if isinstance(val, torch.SymInt) else val)
    return inputs


def _run_fake_at(ep: ExportedProgram, assignment: dict) -> str:
    # A shape env lets data-dependent ops and control-flow operators make unbacked sizes.
    with metadata_fake_mode(allow_non_fake_inputs=True, shape_env=ShapeEnv()) as mode:
        inputs = _fake_inputs(ep, assignment, mode)
        if not _input_guards_hold(ep, inputs):
            return "assert"     # ep.module() would reject these sizes before the graph runs
        try:
            outputs = _BindingInterpreter(ep.graph_module, mode.shape_env).run(*inputs)
        except _DATA_DEPENDENT:
            return "data"
        except Exception as exc:    # noqa: BLE001
            if _ASSERT_FAILED in str(exc):
                return "assert"
            if _NEEDS_DATA in str(exc) or _NO_FAKE_KERNEL in str(exc):
                return "data"
            raise _broken(f"fails at input sizes {_sizes(ep, inputs)}, which its range "
                          "constraints admit", exc) from None
    _check_output_sizes(ep, outputs, assignment, inputs)
    return "ok"


class _BindingInterpreter(torch.fx.Interpreter):
    """Runs the graph node by node, binding each node's fresh unbacked sizes to its result as
    torch's tracers do. A plain call leaves the sizes a data-dependent op made (boolean-mask
    indexing) pending, and the next operator that checks for pending sizes (torch.cond under
    autograd) fails on them although the program is fine."""

    def __init__(self, module: torch.fx.GraphModule, shape_env: ShapeEnv) -> None:
        super().__init__(module)
        self.shape_env = shape_env

    def run_node(self, n: torch.fx.Node) -> Any:
        result = super().run_node(n)
        compute_unbacked_bindings(self.shape_env, result)
        return result


def _fake_inputs(ep: ExportedProgram, assignment: dict, mode: FakeTensorMode) -> list:
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"]
    inputs = []
    for node, spec in zip(placeholders, ep.graph_signature.input_specs):
        val = node.meta.get("val")
        if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER):
            real = ep.state_dict.get(spec.target)
            real = ep.constants[spec.target] if real is None else real
            inputs.append(mode.from_tensor(real, static_shapes=True))
        elif spec.kind in (InputKind.CONSTANT_TENSOR, InputKind.CUSTOM_OBJ):
            value = ep.constants[spec.target]
            is_tensor = isinstance(value, torch.Tensor)
            inputs.append(mode.from_tensor(value, static_shapes=True) if is_tensor else value)
        elif isinstance(val, torch.Tensor):
            shape = [_at(s, assignment) for s in val.shape]
            strides = [_at(s, assignment) for s in val.stride()]
            inputs.append(torch.empty_strided(shape, strides, dtype=val.dtype,
                                              device=val.device, requires_grad=val.requires_grad))
        else:
            inputs.append(_at(val, assignment) if isinstance(val, torch.SymInt) else val)
    return inputs


def _input_guards_hold(ep: ExportedProgram, inputs: list) -> bool:
    """The checks ep.module() runs on its inputs before the graph (relations between input
    sizes), evaluated as torch.export's guard code names them: `L['flat_args'][i]`."""
    user = [value for value, spec in zip(inputs, ep.graph_signature.input_specs)
            if spec.kind == InputKind.USER_INPUT]
    scope = {"L": {"flat_args": user}}
    try:
        return all(bool(eval(code, {"math": math, "torch": torch}, scope))
                   for code in ep._guards_code)
    except Exception:   # noqa: BLE001 - a guard that cannot be evaluated: do not run there
        return False


def _check_output_sizes(ep: ExportedProgram, outputs: Any, assignment: dict,
                        inputs: list) -> None:
    """Each tensor output has the sizes the program's metadata states at these sizes."""
    output_node = next(n for n in reversed(ep.graph.nodes) if n.op == "output")
    stated = [a.meta.get("val") if isinstance(a, torch.fx.Node) else None
              for a in output_node.args[0]]
    for index, (val, out) in enumerate(zip(stated, outputs)):
        if not (isinstance(val, torch.Tensor) and isinstance(out, torch.Tensor)):
            continue
        expected = [_at(s, assignment) for s in val.shape]
        if any(type(e) is int and type(a) is int and e != a for e, a in zip(expected, out.shape)) or \
                len(expected) != out.dim():
            raise _broken(f"output {index} has sizes {list(out.shape)} at input sizes "
                          f"{_sizes(ep, inputs)}, where the program states {expected}", None)


def _at(size: Any, assignment: dict) -> Any:
    """An int or torch symbolic size at `assignment` (unbacked parts stay symbolic: None)."""
    if not isinstance(size, torch.SymInt):
        return size
    value = sympy.sympify(sympy.sympify(size.node.expr).xreplace(assignment))
    return int(value) if value.is_number else None


def _sizes(ep: ExportedProgram, inputs: list) -> list:
    """The user inputs' sizes."""
    return [list(t.shape) for t, spec in zip(inputs, ep.graph_signature.input_specs)
            if spec.kind == InputKind.USER_INPUT and isinstance(t, torch.Tensor)]


def _broken(problem: str, exc: BaseException | None) -> InternalTracerError:
    cause = "" if exc is None else f": {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return InternalTracerError(
        f"strict_tracer built a program that {problem}{cause}. It refuses to return it rather "
        "than hand over a broken program (this is a strict_tracer bug; please report it with "
        "the model)")
