"""Tracing a Python callable (branch, loop body, combine function) into its own FX graph.

A `SubgraphBuilder` becomes the trace's current graph while our interpreter runs the callable.
Its graph imports every node of an enclosing graph that an argument refers to: the first use
of an outer tensor (an operand, a closed-over tensor, a parameter or buffer read inside the
body, `self` state) creates a placeholder of the subgraph bound to that outer node, so no
node ever refers across graphs. Operators add explicit inputs (map slices, loop carries)
before the body runs. While the body runs, writes to objects older than the body and
mutations of its inputs are refused, as torch.export refuses them.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx

from ..errors import Category
from .graph import GraphBuilder, LiftedInput
from ..proxy import TensorMeta, TensorProxy
from .body_aliasing import StorageTracker
from .body_symbols import BodySymNodes, bind_placeholder, leaked_unbacked

PURE_BODY_HINT = ("control-flow bodies must be pure functions of their inputs: compute new "
                  "tensors and return them instead of changing existing ones")


class ScopedGraph(torch.fx.Graph):
    """An fx.Graph whose new nodes only refer to its own nodes (outer ones are imported)."""

    def __init__(self, builder: "SubgraphBuilder") -> None:
        super().__init__()
        self.builder = builder

    def create_node(self, op, target, args=None, kwargs=None, name=None, type_expr=None):
        builder = self.builder
        if op not in ("placeholder", "get_attr"):
            if args:
                args = torch.fx.map_arg(args, builder.import_node)
            if kwargs:
                kwargs = torch.fx.map_arg(kwargs, builder.import_node)
        node = super().create_node(op, target, args, kwargs, name, type_expr)
        if op == "call_function":
            builder.after_call(node)
        return node


class SubgraphBuilder(GraphBuilder):
    """The graph of one callable traced for a control-flow operator."""

    def __init__(self, interp, parent: GraphBuilder, what: str) -> None:
        super().__init__(ScopedGraph(self))
        self.interp = interp
        self.parent = parent
        self.root: GraphBuilder = parent.root if isinstance(parent, SubgraphBuilder) else parent
        self.what = what                              # "the true branch of torch.cond"
        self.node_metadata = parent.node_metadata
        self.explicit: list[torch.fx.Node] = []       # inputs the operator passes (in order)
        self.free: dict[torch.fx.Node, torch.fx.Node] = {}   # parent-graph node -> placeholder
        self.outer_of: dict[torch.fx.Node, torch.fx.Node] = {}
        self.storage = StorageTracker()
        self.sym_nodes = BodySymNodes(self, interp.state.shape_env, interp.state.sym_nodes)
        self.finished = False                         # the output node exists
        self.operands: list[TensorProxy] = []         # outer tensors passed as operands (cond)

    # ------------------------------------------------------------------ inputs
    def explicit_input(self, meta: TensorMeta, origin: str) -> TensorProxy:
        """A new input the operator passes to the body (before any imported one)."""
        anchor = next(iter(self.free.values()), None) or self._first_non_placeholder()
        node = self._placeholder(meta, anchor)
        self.explicit.append(node)
        return TensorProxy(node, meta, origin)

    def import_node(self, node: torch.fx.Node) -> torch.fx.Node:
        """This graph's node for `node` (a placeholder bound to it when it is an outer node)."""
        if node.graph is self.graph:
            return node
        parent = self.parent
        if isinstance(parent, SubgraphBuilder):
            outer = parent.import_node(node)
        elif node.graph is parent.graph:
            outer = node
        else:
            raise self.interp.refuse(
                Category.UNSUPPORTED_PYTHON,
                f"{self.what} uses a tensor computed inside another control-flow body",
                hint="return the tensor from that body and pass it in as an operand")
        placeholder = self.free.get(outer)
        if placeholder is None:
            placeholder = self._placeholder(outer.meta.get("st_meta"), self._first_non_placeholder())
            self.free[outer] = placeholder
            self.outer_of[placeholder] = outer
        return placeholder

    def _placeholder(self, meta: Any, anchor: torch.fx.Node | None) -> torch.fx.Node:
        if anchor is None:
            node = self.graph.placeholder("arg")
        else:
            with self.graph.inserting_before(anchor):
                node = self.graph.placeholder("arg")
        node.meta["st_meta"] = meta
        self.storage.add_input(node)
        bind_placeholder(self.sym_nodes, node, meta, read=not self.finished)
        return node

    def lifted_placeholder(self, kind: str, target: str, tensor: torch.Tensor, meta: TensorMeta,
                           persistent: bool | None = True, path: str | None = None) -> LiftedInput:
        # Parameters, buffers and constants are inputs of the exported program; a body reads
        # them through its enclosing graphs like any other outer tensor.
        return self.root.lifted_placeholder(kind, target, tensor, meta, persistent, path)

    def user_placeholder(self, name, meta, value=None):
        raise AssertionError("user inputs belong to the root graph")

    # ------------------------------------------------------------------ calls
    def after_call(self, node: torch.fx.Node) -> None:
        written = self.storage.add_call(node)
        if written:
            what = ", ".join(_describe_input(self, n) for n in written)
            raise self.interp.refuse(
                Category.SIDE_EFFECT,
                f"{self.what} mutates its input {what} in place ({node.target})",
                hint=PURE_BODY_HINT + " (clone the input first: y = x.clone(); y.add_(1))")

    # ------------------------------------------------------------------ finishing
    def finish(self, values: list[Any], layout: str = "tuple", outputs_may_alias: bool = False) -> list[Any]:
        """Add the output node (`layout`: tuple, list or bare) and drop what nobody uses.

        Returns the output values as nodes of this graph (or constants). Outputs that alias
        an input or each other are refused unless `outputs_may_alias` (a body that is not
        kept as a subgraph, such as vmap's example).
        """
        nodes = [self.import_node(v.node) if type(v) is TensorProxy else v for v in values]
        if not outputs_may_alias:
            self._check_output_aliasing(nodes)
        self.finished = True
        if layout == "bare":
            self.graph.output(nodes[0])
        else:
            self.graph.output(list(nodes) if layout == "list" else tuple(nodes))
        self.graph.eliminate_dead_code()
        for outer, placeholder in list(self.free.items()):
            if not placeholder.users:
                self.graph.erase_node(placeholder)
                del self.free[outer]
                del self.outer_of[placeholder]
        return nodes

    def _check_output_aliasing(self, nodes: list[Any]) -> None:
        seen: dict[int, int] = {}
        for index, node in enumerate(nodes):
            if not isinstance(node, torch.fx.Node):
                continue
            if self.storage.aliases_input(node):
                raise self.interp.refuse(
                    Category.CONTROL_FLOW_OP,
                    f"{self.what} returns one of its inputs or a view of it (output {index})",
                    hint="return a new tensor: `return x.clone()` instead of `return x`")
            for storage in self.storage.storages(node):
                if storage in seen:
                    raise self.interp.refuse(
                        Category.CONTROL_FLOW_OP,
                        f"{self.what} returns the same tensor (or views of one tensor) as "
                        f"outputs {seen[storage]} and {index}",
                        hint="clone one of them so that every output is a separate tensor")
                seen[storage] = index

    def order_inputs(self, free_order: list[torch.fx.Node]) -> None:
        """Make the imported inputs exactly `free_order` (parent nodes), in that order, after
        the explicit ones; inputs this body does not use get unused placeholders."""
        for outer in free_order:
            if outer not in self.free:
                placeholder = self._placeholder(outer.meta.get("st_meta"), self._first_non_placeholder())
                self.free[outer] = placeholder
                self.outer_of[placeholder] = outer
        anchor = self._first_non_placeholder()
        if anchor is None:
            anchor = next(n for n in self.graph.nodes if n.op == "output")
        for placeholder in [*self.explicit, *(self.free[o] for o in free_order)]:
            anchor.prepend(placeholder)
        self.free = {o: self.free[o] for o in free_order}


def _describe_input(builder: SubgraphBuilder, node: torch.fx.Node) -> str:
    meta = node.meta.get("st_meta")
    shape = meta.short_str() if isinstance(meta, TensorMeta) else "tensor"
    if node in builder.outer_of:
        return f"'{builder.outer_of[node].name}' ({shape})"
    if node in builder.explicit:
        return f"{builder.explicit.index(node)} ({shape})"
    return f"(a view of an input, {shape})"


def trace_body(interp, builder: SubgraphBuilder, fn: Any, args: tuple, kwargs: dict | None = None) -> Any:
    """Call `fn(*args, **kwargs)` through the interpreter with `builder` as the current graph."""
    state = interp.state
    sandbox = state.sandbox
    saved_grad, saved_autocast = state.grad_enabled, state.autocast.region
    start = sandbox.clock

    def guard(obj: Any, what: str) -> None:
        if type(obj) is TensorProxy:
            if obj.node.graph is builder.graph:
                return
        elif sandbox.fresh_since(obj, start):
            return
        raise interp.refuse(Category.SIDE_EFFECT,
                            f"{builder.what} writes {what} of {_short(obj)}, which exists outside it",
                            hint=PURE_BODY_HINT)

    with state.subgraph(builder, guard):
        result = interp.call(fn, tuple(args), kwargs or {})
    if state.grad_enabled != saved_grad:
        state.grad_enabled = saved_grad
        raise interp.refuse(Category.SIDE_EFFECT,
                            f"{builder.what} changes the grad mode without restoring it",
                            hint="use `with torch.no_grad():` inside the body")
    if state.autocast.region is not saved_autocast:
        raise interp.refuse(Category.SIDE_EFFECT,
                            f"{builder.what} enters or exits a torch.autocast block it does not "
                            "also leave or enter", hint="use `with torch.autocast(...):` inside the body")
    return result


def _short(obj: Any) -> str:
    if isinstance(obj, torch.nn.Module):
        return f"module {type(obj).__name__}"
    return f"{type(obj).__name__} object"


def check_no_leaked_symbols(interp, builder: SubgraphBuilder, outputs: list[Any]) -> None:
    """Refuse outputs whose sizes depend on data read inside the body (torch.export would
    give them fresh data-dependent sizes, which strict_tracer does not support yet)."""
    leaked = leaked_unbacked(builder.sym_nodes, outputs)
    if leaked:
        raise interp.refuse(
            Category.CONTROL_FLOW_OP,
            f"an output of {builder.what} has a size that depends on data read inside it "
            f"({', '.join(str(s) for s in leaked)})",
            hint="compute data-dependent sizes outside the body and pass the tensors in")
