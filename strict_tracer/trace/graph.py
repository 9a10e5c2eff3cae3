"""GraphBuilder: owns the FX graph of one trace.

Placeholders come in torch.export's order: lifted parameters, then buffers and constant
tensors (each group in order of first use), then user inputs. Call nodes carry the metadata
torch.export records (`stack_trace`, `nn_module_stack`, `source_fn_stack`, `torch_fn`) plus our
own `TensorMeta` under `st_meta`, from which packaging derives `val`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.fx

from ..errors import Category, GraphBreakError
from ..proxy import TensorMeta

# The kinds of program input, one vocabulary for every stage (lifted inputs here, the
# functionalization pass's input sources, the packaged signature).
PARAMETER, BUFFER, CONSTANT, USER_INPUT = "parameter", "buffer", "constant", "user input"
_PREFIX = {PARAMETER: "p_", BUFFER: "b_", CONSTANT: "c_"}
_NOT_ALPHANUMERIC = re.compile(r"[^a-zA-Z0-9]")


@dataclass
class LiftedInput:
    kind: str            # PARAMETER / BUFFER / CONSTANT (never USER_INPUT)
    target: str          # state_dict / constants key
    tensor: torch.Tensor
    node: torch.fx.Node
    persistent: bool | None = True     # torch marks module-attribute constants persistent too


@dataclass
class UserInput:
    name: str
    node: torch.fx.Node


def op_display_name(target: Any) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return target.overloadpacket.__name__
    return getattr(target, "__name__", str(target))


def call_node(graph: torch.fx.Graph, target: Any, args: tuple, kwargs: dict,
              name: str) -> torch.fx.Node:
    """`graph.call_function(target, args, kwargs, name=name)`, in half the time.

    create_node walks the arguments with pytree (~4 us a node, half its cost) to warn about
    raw torch SymInts in them; ours never hold any (a symbolic argument is the node computing
    it). The node is made without arguments, then given them the way Node.__init__ gives
    them (uses, users and immutable containers alike). A graph class of its own
    (trace/subgraph.py's ScopedGraph rewrites arguments in create_node) goes the usual way."""
    if type(graph) is not torch.fx.Graph:
        return graph.create_node("call_function", target, args, kwargs, name=name)
    node = graph.create_node("call_function", target, name=name)
    if args or kwargs:
        node._update_args_kwargs(args, kwargs or node.kwargs)
    return node


# A trace stops here instead of growing without bound (a Python loop unrolling forever);
# each node costs ~10 KB while tracing (README "Limits").
MAX_GRAPH_NODES = 200_000


class GraphBuilder:
    def __init__(self, graph: torch.fx.Graph | None = None) -> None:
        self.graph = torch.fx.Graph() if graph is None else graph
        self.lifted: list[LiftedInput] = []
        self.user_inputs: list[UserInput] = []
        self._lifted_by_target: dict[str, LiftedInput] = {}
        self.node_metadata: Callable[[], dict[str, Any]] = lambda: {}
        # Subgraphs of control-flow operators, by the get_attr target naming them (hops/).
        self.submodules: dict[str, Any] = {}

    # -- placeholders --
    def user_placeholder(self, name: str, meta: TensorMeta | None, value: Any = None) -> torch.fx.Node:
        node = self.graph.placeholder(name)
        if node.name != name:
            # FX avoids names that shadow builtins (`input`); torch.export keeps the argument's name.
            namespace = self.graph._graph_namespace
            if name in namespace._used_names:
                raise ValueError(f"input name {name!r} is not unique")
            namespace._used_names.add(name)
            node.name = node.target = name
        node.meta["st_meta"] = meta
        if meta is None:
            node.meta["st_value"] = value
        self.user_inputs.append(UserInput(name, node))
        return node

    def lifted_placeholder(self, kind: str, target: str, tensor: torch.Tensor, meta: TensorMeta,
                           persistent: bool | None = True, path: str | None = None) -> LiftedInput:
        """The placeholder of a lifted tensor; `path` (default `target`) names it."""
        existing = self._lifted_by_target.get(target)
        if existing is not None:
            return existing
        anchor = self._insertion_anchor(kind)
        # torch.export's placeholder naming: lower case, non-alphanumerics as underscores.
        name = _PREFIX[kind] + _NOT_ALPHANUMERIC.sub("_", (path or target).lower())
        if anchor is None:
            node = self.graph.placeholder(name)
        else:
            with self.graph.inserting_before(anchor):
                node = self.graph.placeholder(name)
        if node.target != node.name:    # FX renamed it past a user input's name: the argument follows
            node.target = node.name
        node.meta["st_meta"] = meta
        lifted = LiftedInput(kind, target, tensor, node, persistent)
        self.lifted.append(lifted)
        self._lifted_by_target[target] = lifted
        return lifted

    def _insertion_anchor(self, kind: str) -> torch.fx.Node | None:
        """Parameters go before any buffer/constant/user input; the rest before user inputs."""
        if kind == PARAMETER:
            for lifted in self.lifted:
                if lifted.kind != PARAMETER:
                    return lifted.node
        return self.user_inputs[0].node if self.user_inputs else self._first_non_placeholder()

    def _first_non_placeholder(self) -> torch.fx.Node | None:
        for node in self.graph.nodes:
            if node.op != "placeholder":
                return node
        return None

    # -- calls --
    def call(self, target: Any, args: tuple, kwargs: dict, meta: Any = None) -> torch.fx.Node:
        if len(self.graph.nodes) >= MAX_GRAPH_NODES:
            raise GraphBreakError(
                Category.UNSUPPORTED_PYTHON,
                f"the graph reached strict_tracer's limit of {MAX_GRAPH_NODES} nodes (a Python "
                "loop unrolled without end, or a model too large for one graph)",
                hint="bound the loop (or use torch.cond / a loop over fewer, larger tensor ops), "
                     "or export the submodules separately")
        node = call_node(self.graph, target, args, kwargs, op_display_name(target))
        node.meta.update(self.node_metadata())
        node.meta["st_meta"] = meta
        return node

    def output(self, values: list[Any]) -> torch.fx.Node:
        return self.graph.output(tuple(values))

    # -- subgraphs (control-flow operators) --
    def unused_submodule_index(self, *prefixes: str) -> int:
        """The first i for which no `{prefix}_{i}` is taken (torch numbers cond's pair together)."""
        i = 0
        while any(f"{p}_{i}" in self.submodules for p in prefixes):
            i += 1
        return i

    def get_attr(self, name: str, submodule: Any) -> torch.fx.Node:
        """Register `submodule` as attribute `name` and read it with a get_attr node."""
        self.submodules[name] = submodule
        node = self.graph.get_attr(name)
        node.meta.update(self.node_metadata())
        return node

    def prune(self) -> None:
        """Drop pure nodes nobody uses, then lifted inputs nobody reads (as torch.export does)."""
        # Graph.eliminate_dead_code's walk without its lint of the whole graph (the verifier
        # of ExportedProgram() lints the program's graph). A node with users stays whatever
        # it is: only unused ones need torch's purity test.
        for node in reversed(self.graph.nodes):
            if not node.users and not node.is_impure():
                self.graph.erase_node(node)
        for lifted in list(self.lifted):
            if not lifted.node.users:
                self.graph.erase_node(lifted.node)
                self.lifted.remove(lifted)
                del self._lifted_by_target[lifted.target]
        used = {n.target for n in self.graph.nodes if n.op == "get_attr"}
        self.submodules = {k: v for k, v in self.submodules.items() if k in used}
