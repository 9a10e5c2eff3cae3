"""TraceState: everything one export() trace accumulates besides the interpreter's frames.

The graph under construction, the shape environment, the sandbox's undo log, the virtual grad
mode, the lifted tensors (parameters, buffers, constants) and the module call stack.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from .autocast import VirtualAutocast
from ..errors import Category, GraphBreakError
from .graph import BUFFER, CONSTANT, PARAMETER, GraphBuilder
from .real_values import RealValues
from .sandbox import UndoLog
from torch._subclasses.fake_tensor import is_fake
from ..proxy import TensorMeta, TensorProxy
from .source_fns import RetracedGraph, SourceFns
from .sym_nodes import SymNodes
from ..symbolic import ShapeEnv


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


class TraceState:
    def __init__(self, root: torch.nn.Module) -> None:
        self.root = root
        self.graph = GraphBuilder()
        self.shape_env = ShapeEnv()
        self.input_symbols = None            # what dynamic_shapes allocated (inputs.py)
        # How logs print an expression of the input symbols: (shape_env, input_symbols) ->
        # expr -> str; set by the export pipeline (packaging/torch_symbols.program_names), else str.
        self.symbol_printer: Any = None
        # Node stack traces (torch.export's `stack_trace`): off for a trace that is only
        # compared, never returned (the sizes 0/1 check), whose text would only cost.
        self.stack_traces = True
        self.sym_nodes = SymNodes(self.graph, self.shape_env)
        # Enclosing (graph, sym nodes, write guard) of the operator bodies being traced.
        self.scopes: list[tuple[Any, Any, Any]] = []
        self.sandbox = UndoLog()
        self.grad_enabled = torch.is_grad_enabled()
        self.export_grad_enabled = self.grad_enabled
        self.grad_region = 0                 # bumped at every grad-mode change inside forward
        self.autocast = VirtualAutocast()    # torch.autocast blocks inside forward (autocast.py)
        self.module_overlay: dict[tuple[int, str], Any] = {}
        self.tensor_attrs: dict[tuple[int, str], Any] = {}     # Python attributes set on proxies
        self.buffer_assignments: dict[str, TensorProxy] = {}
        # Real example tensors of the user-input placeholders (read only by the
        # assume_constant_result escape hatch, interpreter/calls/escape_hatches.py).
        self.example_inputs: dict[Any, torch.Tensor] = {}
        self._lifted: dict[int, TensorProxy] = {}
        self._constant_count = 0
        self.param_names: dict[int, str] = {}
        for name, p in root.named_parameters(remove_duplicate=False):
            self.param_names.setdefault(id(p), name)
        self.buffer_names: dict[int, tuple[str, bool]] = {}
        self.module_names: dict[int, str] = {}
        self.module_aliases: dict[int, list[str]] = {}     # every name of each submodule
        for mod_name, mod in root.named_modules(remove_duplicate=False):
            self.module_names.setdefault(id(mod), mod_name)
            self.module_aliases.setdefault(id(mod), []).append(mod_name)
            for buf_name, buf in mod._buffers.items():
                if buf is not None:
                    fqn = f"{mod_name}.{buf_name}" if mod_name else buf_name
                    persistent = buf_name not in mod._non_persistent_buffers_set
                    self.buffer_names.setdefault(id(buf), (fqn, persistent))
        self.module_stack: list[tuple[str, str, str, type]] = []   # (key, fqn, type name, type)
        self.source_fns = SourceFns()
        self.retraced = RetracedGraph.of(root)
        self.module_paths: dict[int, str] = {}    # the path a submodule was last read through
        # Calls so far per module, and per (module, name) (the `@n` key suffix).
        self.module_calls: dict[Any, int] = {}
        # preserve_module_call_signature: id(submodule) -> path, and the specs of its calls.
        self.preserved: dict[int, set[str]] = {}
        self.module_call_specs: dict[str, dict[str, Any]] = {}
        self.real_values: RealValues | None = None    # under torch's real-tensor propagation

    # ------------------------------------------------------------------ module scopes
    def note_module_path(self, parent: torch.nn.Module, name: str, child: torch.nn.Module) -> None:
        """`parent.name` read `child`: a submodule shared under several names is recorded under
        the name the call went through (`self.p(x)` with `self.p = self.n` -> "p"), as torch.export
        does."""
        parent_path = self.module_paths.get(id(parent), self.module_names.get(id(parent)))
        if parent_path is not None and id(child) in self.module_names:
            self.module_paths[id(child)] = f"{parent_path}.{name}" if parent_path else name

    @contextlib.contextmanager
    def subgraph(self, builder: GraphBuilder, write_guard: Any = None) -> Iterator[GraphBuilder]:
        """Make `builder` (an operator body's graph, trace/subgraph.py) the current graph, with
        its sym nodes and the sandbox's `write_guard`, until the block ends; the enclosing
        scope comes back however the block ends (a stack: bodies nest)."""
        self.scopes.append((self.graph, self.sym_nodes, self.sandbox.write_guard))
        self.graph, self.sym_nodes = builder, builder.sym_nodes
        self.sandbox.write_guard = write_guard
        try:
            yield builder
        finally:
            self.graph, self.sym_nodes, self.sandbox.write_guard = self.scopes.pop()

    @contextlib.contextmanager
    def module_scope(self, mod: torch.nn.Module) -> Iterator[None]:
        key_name = self.module_names.get(id(mod))
        if key_name is None:      # created in forward(): not a submodule, no entry (as torch)
            yield
            return
        calls = self.module_calls.get(id(mod), 0)
        self.module_calls[id(mod)] = calls + 1
        fqn = self.module_paths.get(id(mod))
        if fqn is None:
            # Not read through an attribute (a container iterated): a module listed under
            # several names is taken to be called in their order (Sequential(a, b, a)).
            aliases = self.module_aliases[id(mod)]
            fqn = aliases[calls % len(aliases)]
        # The key names the module object (one for all its names), the value the path used.
        key = "L__self__" + (f"_{key_name.replace('.', '_')}" if key_name else "")
        # torch.export suffixes the n-th call (n >= 1) of a module under one name `@n`;
        # unflatten tells the calls apart by it.
        index = self.module_calls.get((id(mod), fqn), 0)
        self.module_calls[(id(mod), fqn)] = index + 1
        if index:
            key = f"{key}@{index}"
        self.module_stack.append((key, fqn, _type_name(type(mod)), type(mod)))
        try:
            yield
        finally:
            self.module_stack.pop()

    def nn_module_stack(self) -> dict[str, tuple[str, str]]:
        return {key: (fqn, tname) for key, fqn, tname, _ in self.module_stack}

    def node_source_fn(self) -> dict[str, Any]:
        """source_fn_stack / torch_fn of a node made now (source_fns.py)."""
        return self.source_fns.metadata(self.module_stack[-1][3] if self.module_stack else None)

    # ------------------------------------------------------------------ lifting
    def lift(self, tensor: torch.Tensor, path: str | None = None) -> TensorProxy:
        proxy = self._lifted.get(id(tensor))
        if proxy is not None:
            return proxy
        ident = id(tensor)
        if ident in self.param_names:
            return self._make_lifted(PARAMETER, self.param_names[ident], tensor, path=path)
        if ident in self.buffer_names:
            fqn, persistent = self.buffer_names[ident]
            return self._make_lifted(BUFFER, fqn, tensor, persistent, path=path)
        name = f"lifted_tensor_{self._constant_count}"
        self._constant_count += 1
        return self._make_lifted(CONSTANT, name, tensor, persistent=None)

    def lifted_proxy(self, tensor: torch.Tensor) -> TensorProxy | None:
        """The proxy `tensor` was lifted to, if it was (for identity tests)."""
        return self._lifted.get(id(tensor))

    def lift_module_tensor(self, mod: torch.nn.Module, attr: str, tensor: torch.Tensor) -> TensorProxy:
        proxy = self._lifted.get(id(tensor))
        if proxy is not None:
            return proxy
        ident = id(tensor)
        mod_name = self.module_names.get(id(mod))
        if ident in self.param_names or ident in self.buffer_names:
            # A tied weight is named after the path forward read it through (as torch.export
            # names it); its target stays the state_dict name.
            path = None if mod_name is None else f"{mod_name}.{attr}" if mod_name else attr
            return self.lift(tensor, path)
        if mod_name is None:
            return self.lift(tensor)
        target = f"{mod_name}.{attr}" if mod_name else attr
        return self._make_lifted(CONSTANT, target, tensor)

    def _make_lifted(self, kind: str, target: str, tensor: torch.Tensor,
                     persistent: bool | None = True, path: str | None = None) -> TensorProxy:
        _check_plain_tensor(tensor, target)
        original = tensor
        if kind == CONSTANT and isinstance(tensor, torch.nn.Parameter):
            # A parameter of a module forward reaches outside the root (a global, one made in
            # forward) is a constant, stored detached as torch.export stores it: a Parameter
            # attribute would make the unlifted module register it as a parameter.
            tensor = tensor.detach()
        meta = TensorMeta.from_tensor(tensor)
        if not is_fake(tensor):     # fake weights (a module built under FakeTensorMode): by meta
            meta.real = tensor
        lifted = self.graph.lifted_placeholder(kind, target, tensor, meta, persistent, path)
        py_type = torch.nn.Parameter if isinstance(original, torch.nn.Parameter) else torch.Tensor
        proxy = TensorProxy(lifted.node, meta, f"{kind} {target}", source=target, py_type=py_type)
        self._lifted[id(original)] = proxy
        return proxy

    # ------------------------------------------------------------------ module tensor stores
    def set_module_tensor(self, mod: torch.nn.Module, name: str, value: TensorProxy) -> None:
        """`mod.name = tensor` in forward: reads see it; a buffer is updated at the end."""
        self.sandbox.check_write(mod, f"attribute '{name}'")
        self.module_overlay[(id(mod), name)] = value
        buffers = mod.__dict__.get("_buffers", {})
        if name in buffers and buffers[name] is not None:
            original = self.lift(buffers[name])
            if original.meta.hint_shape != value.meta.hint_shape or original.meta.dtype != value.meta.dtype:
                # Refused at the store, so the error points at the assignment.
                raise GraphBreakError(
                    Category.SIDE_EFFECT,
                    f"buffer '{original.source}' is replaced by a tensor of a different shape or "
                    f"dtype ({original.meta.short_str()} -> {value.meta.short_str()})",
                    hint="keep buffers' shapes fixed; store the new tensor in another attribute",
                    operands=(original, value))
            self.buffer_assignments[original.source] = value


    def finish_buffer_assignments(self, interp) -> None:
        """Write tensors assigned to buffers in forward back into the buffers (copy_)."""
        for target, value in self.buffer_assignments.items():
            buffer = self.root.get_buffer(target)
            original = self._lifted[id(buffer)]
            if value is original:
                continue        # `self.buf += 1`: the in-place op already wrote the buffer
            interp.tensors.op(torch.Tensor.copy_, (original, value), {})


def _check_plain_tensor(tensor: torch.Tensor, target: str) -> None:
    if type(tensor) is TensorProxy:
        raise GraphBreakError(
            Category.UNSUPPORTED_TENSOR_OP,
            f"'{target}' holds a tensor computed inside forward(), stored among the module's "
            "parameters or buffers; an exported program's state is fixed when it is exported",
            hint=f"register '{target}' once in __init__ and update it in forward() with "
                 f"self.{target.rsplit('.', 1)[-1]}.copy_(...), or keep the tensor in a local "
                 "variable")
    if type(tensor) not in (torch.Tensor, torch.nn.Parameter, torch.nn.Buffer) and \
            not isinstance(tensor, torch.nn.Parameter) and not is_fake(tensor):
        raise GraphBreakError(
            Category.UNSUPPORTED_TENSOR_OP,
            f"tensor '{target}' is a {type(tensor).__name__}; tensor subclasses are not supported",
            hint="convert it to a plain torch.Tensor before export")

