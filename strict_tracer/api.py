"""export(): the pipeline of DESIGN.md "Data flow", one stage after another."""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator

import torch
from torch._subclasses.fake_tensor import unset_fake_temporarily

from . import context, process_state
from .packaging.artifact_check import check_artifact
from .errors import UserInputError, as_torch_op_failure
from .functional import functionalize
from .gc_pause import without_cyclic_gc
from .inputs import prepare_inputs
from . import hops  # noqa: F401  (registers the control-flow operators)
from .interpreter import Interpreter
from .trace.module_calls import preserved_modules
from .interpreter.tensors.autocast_handlers import check_autocast_exited
from .outputs import collect_outputs
from .ops.oracle.fakes import renew_if_large
from .packaging.program import package
from .packaging.torch_symbols import program_names
from .packaging.small_size_check import check_small_sizes, plan_small_sizes
from .runtime_asserts import insert_runtime_asserts, insert_to_metadata_asserts
from .stage_log import Stages, counted
from .symbolic.constraints import check_constraints
from .symbolic.dims import unwrap_int_inputs
from .trace.results import FunctionalProgram, TraceResult
from .trace.real_values import RealValues, propagation_requested
from .trace.trace_state import TraceState
from .warn import warn_user


@contextlib.contextmanager
def _backend_decompositions_off() -> Iterator[None]:
    """torch.export traces with the cuDNN, MKLDNN and NNPACK backends off (so no op picks a
    backend-specific path): code reading those flags (F.batch_norm passes
    `torch.backends.cudnn.enabled` to the op) sees what it sees under torch.export."""
    mkldnn = torch.backends.mkldnn.set_flags(False)
    nnpack = torch.backends.nnpack.set_flags(False)
    cudnn = torch.backends.cudnn.set_flags(False)
    try:
        yield
    finally:
        torch.backends.mkldnn.set_flags(*mkldnn)
        torch.backends.nnpack.set_flags(*nnpack)
        torch.backends.cudnn.set_flags(*cudnn)


def validate_arguments(mod: Any, args: Any, kwargs: Any) -> tuple[tuple, dict]:
    if not isinstance(mod, torch.nn.Module):
        fix = ("wrap it in a module whose forward() calls it (torch.export.export refuses plain "
               "callables too)" if callable(mod) else "pass the torch.nn.Module to export")
        raise UserInputError(f"export() expects a torch.nn.Module, got {type(mod).__name__}; "
                             f"{fix}")
    if isinstance(mod, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        raise UserInputError(
            f"Exporting a ScriptModule is not supported ({type(mod).__name__}: its forward "
            "is TorchScript IR, not Python bytecode); export the original nn.Module, or convert "
            "it with torch._export.converter.TS2EPConverter(mod, args, kwargs).convert()")
    if not isinstance(args, tuple):
        raise UserInputError(f"Expecting `args` to be a tuple of example positional inputs, got "
                             f"{type(args).__name__} "
                             "(wrap a single input as (x,))")
    if type(args) is not tuple:
        args = tuple(args)       # a namedtuple of inputs is positional inputs, as in torch.export
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise UserInputError(f"kwargs must be a dict, got {type(kwargs).__name__}")
    return args, kwargs


@without_cyclic_gc
def export(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None, *,
           dynamic_shapes: Any = None, strict: bool = True,
           preserve_module_call_signature: tuple[str, ...] = (),
           prefer_deferred_runtime_asserts_over_guards: bool = False,
           ) -> torch.export.ExportedProgram:
    """Capture `mod.forward` as an ExportedProgram by interpreting its bytecode.

    The arguments are torch.export.export's. `strict=False` delegates to
    torch.export.export(..., strict=False).
    """
    args, kwargs = validate_arguments(mod, args, kwargs)
    if not strict:
        return torch.export.export(
            mod, args, kwargs, dynamic_shapes=dynamic_shapes, strict=False,
            preserve_module_call_signature=preserve_module_call_signature,
            prefer_deferred_runtime_asserts_over_guards=prefer_deferred_runtime_asserts_over_guards)
    additional_inputs = dynamic_shapes
    args, kwargs, dynamic_shapes = unwrap_int_inputs(mod, args, kwargs, dynamic_shapes)
    stages = Stages(f"export of {type(mod).__name__}")

    # Export called inside the user's FakeTensorMode (fake weights and inputs): our stages run
    # their own fake modes, so the ambient one is set aside meanwhile.
    with context.export_lock, unset_fake_temporarily():   # the stages share the ops caches
        program, result = _export_once(mod, args, kwargs, dynamic_shapes, stages,
                                       preserve_module_call_signature,
                                       prefer_deferred_runtime_asserts_over_guards)
        stages.done("package", "ExportedProgram with %s, %s",
                    counted(len(program.graph.nodes), "graph node"),
                    counted(len(program.range_constraints), "range constraint"))
        plan = plan_small_sizes(result)
        del result      # the trace's memory, before a trace at a small size takes its own
        if plan is not None:
            with stages.part("small sizes"):
                check_small_sizes(program, plan, args, kwargs, lambda small_args, small_kwargs:
                                  _functional_once(mod, small_args, small_kwargs, None,
                                                   Stages(f"small-size trace of "
                                                          f"{type(mod).__name__}"),
                                                   preserve_module_call_signature,
                                                   prefer_deferred_runtime_asserts_over_guards,
                                                   stack_traces=False),
                                  deferred_asserts=prefer_deferred_runtime_asserts_over_guards)
        if isinstance(additional_inputs, torch.export.AdditionalInputs):
            additional_inputs.verify(program)   # each added input meets the guards
        stages.finished()
        return program


def _export_once(mod: torch.nn.Module, args: tuple, kwargs: dict, dynamic_shapes: Any,
                 stages: Stages, preserve: tuple[str, ...], defer_guards: bool
                 ) -> tuple[torch.export.ExportedProgram, TraceResult]:
    """Stages 1-6 and the artifact check."""
    functional = _functional_once(mod, args, kwargs, dynamic_shapes, stages, preserve,
                                  defer_guards, stack_traces=True)
    with _as_torch_op_failures():
        program = package(functional, stages)
        with stages.part("check"):
            check_artifact(program, compiled=True)
    return program, functional.trace


def _functional_once(mod: torch.nn.Module, args: tuple, kwargs: dict, dynamic_shapes: Any,
                     stages: Stages, preserve: tuple[str, ...], defer_guards: bool,
                     stack_traces: bool) -> FunctionalProgram:
    """Stages 1-5: the functional program, not packaged (the sizes 0/1 check compares these,
    without stack traces)."""
    with _as_torch_op_failures():
        result = trace(mod, args, kwargs, dynamic_shapes=dynamic_shapes,
                       preserve_module_call_signature=preserve, stages=stages,
                       defer_guards=defer_guards, stack_traces=stack_traces)
        functional = functionalize(result)
        if result.inputs.symbols is not None:
            with stages.part("solve"):
                # Ops functionalization adds may specialize sizes too (an op without a rule).
                for text in check_constraints(result.shape_env, result.inputs.symbols):
                    warn_user(text)
        stages.done("functionalize", counted(len(result.graph.graph.nodes), "graph node"))
        return functional


@contextlib.contextmanager
def _as_torch_op_failures() -> Iterator[None]:
    """A tensor op's failure leaves as torch.export's class; the process state is restored."""
    saved = process_state.save()
    try:
        yield
    except Exception as error:
        wrapped = as_torch_op_failure(error)
        if wrapped is error:
            raise
        raise wrapped from None
    finally:
        process_state.restore(saved)


def _log_inputs(stages: Stages, inputs: Any) -> None:
    if not stages.enabled:
        stages.lap("inputs")
    else:
        tensors = sum(1 for leaf in inputs.leaves if leaf.proxy is not None)
        symbols = len(inputs.symbols.by_symbol) if inputs.symbols is not None else 0
        stages.done("inputs", "%s, %s, %s", counted(tensors, "tensor"),
                    counted(len(inputs.leaves) - tensors, "other value"),
                    counted(symbols, "size symbol"))


def _log_trace(stages: Stages, interp: Interpreter) -> None:
    observer = interp.observer        # INFO on: the observed loop counted the instructions
    if not (stages.enabled and observer is not None):
        stages.lap("trace")
    else:
        nodes = interp.state.graph.graph.nodes
        ops = sum(1 for node in nodes if node.op == "call_function")
        stages.done("trace", "%s in %s, %s, %s", counted(observer.instructions, "instruction"),
                    counted(observer.frame_runs, "frame run"), counted(ops, "op"),
                    counted(len(interp.state.shape_env.guards), "guard"))


def trace(mod: torch.nn.Module, args: tuple, kwargs: dict, *, dynamic_shapes: Any = None,
          explain: Any = None, preserve_module_call_signature: tuple[str, ...] = (),
          stages: Stages | None = None, defer_guards: bool = False,
          stack_traces: bool = True) -> TraceResult:
    """Stages 1-3 and the constraint check: inputs, interpretation of forward(), outputs.

    `explain` is an explain.ExplainSession when explain() runs the trace; `stages` logs the
    stages at INFO; `defer_guards` is export's prefer_deferred_runtime_asserts_over_guards;
    `stack_traces` off leaves nodes without their stack_trace (a trace only compared).
    """
    with context.export_lock:
        return _trace(mod, args, kwargs, dynamic_shapes, explain,
                      stages or Stages(f"trace of {type(mod).__name__}"),
                      preserve_module_call_signature, defer_guards, stack_traces)


def _trace(mod: torch.nn.Module, args: tuple, kwargs: dict, dynamic_shapes: Any,
           explain: Any, stages: Stages, preserve: tuple[str, ...] = (),
           defer_guards: bool = False, stack_traces: bool = True) -> TraceResult:
    renew_if_large()
    try:
        state = TraceState(mod)
        state.stack_traces = stack_traces
        state.shape_env.defer_guards = defer_guards
        state.preserved = preserved_modules(mod, preserve)
        state.symbol_printer = program_names
    except RecursionError:
        raise UserInputError(
            f"the module tree of {type(mod).__name__} is nested too deeply for torch's recursive "
            f"module walks (named_modules() exceeds Python's recursion limit, "
            f"{sys.getrecursionlimit()}): flatten the module tree, or raise the limit with "
            "sys.setrecursionlimit()") from None
    interp = Interpreter(state, explain=explain)   # sets state.shape_env.provenance
    saved = process_state.save()
    try:
        with context.activate(interp), _backend_decompositions_off():
            inputs = prepare_inputs(mod, args, kwargs, state, dynamic_shapes, interp)
            state.input_symbols = inputs.symbols
            if propagation_requested():      # torch's opt-in flag, read once per export
                state.real_values = RealValues(state.graph)
                state.real_values.seed_inputs(inputs.leaves)
            _log_inputs(stages, inputs)
            returned = interp.modules.call(mod, inputs.args, inputs.kwargs)
            check_autocast_exited(interp)
            outputs = collect_outputs(returned, state, interp)
            state.finish_buffer_assignments(interp)
    finally:
        try:
            state.sandbox.restore_all()
        finally:
            process_state.restore(saved)
            if interp.observer is not None:
                interp.observer.finish()
    with stages.part("solve"):
        if inputs.symbols is not None:
            check_constraints(state.shape_env, inputs.symbols)
    _log_trace(stages, interp)
    with stages.part("solve"):
        insert_runtime_asserts(state)
    graph = state.graph
    graph.output(outputs.values)
    if explain is None:       # explain() reports every op it captured and never packages
        state.sym_nodes.merge_equal_values()
        graph.prune()
        insert_to_metadata_asserts(graph.graph)
    return TraceResult(mod, graph, inputs, outputs.values, outputs.out_spec, args, kwargs,
                       shape_env=state.shape_env, sym_nodes=state.sym_nodes,
                       export_grad=state.export_grad_enabled,
                       module_call_specs=state.module_call_specs)
