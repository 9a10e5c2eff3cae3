"""The functionalization pass: rewrite a traced (aliasing, mutating) graph into a functional one.

The traced graph has eager semantics: views share storage with their base and in-place ops
write through them. The pass walks it in order and keeps, for every tensor, its storage and
view chain (storage.py). Functional and view nodes stay, reading the current values of their
inputs; a write (in-place, out=, running-stat update) becomes the op's functional variant
(schema.py) plus scatters into the base (views.py); views read after a write are remade from
the new base. Ops that may alias or mutate depending on their inputs (reshape, contiguous,
batch_norm, ...) are first replaced by their decomposition, whose nodes are then walked like
traced ones. At the end, every written input storage is a mutation output.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx

from ..errors import Category, InternalTracerError
from ..proxy import TensorMeta, TensorProxy, layout_strides
from ..ops import layout
from ..ops.shape_rules import has_symbolic
from .auto_functionalize import auto_functionalizable, functionalize_custom_op
from .decompose import aliasing_is_size_independent, hides_writes, identity_dropout
from .emitter import PassEmitter, refusal
from .schema import Kind, is_cia, needs_decomposition, op_facts
from ..trace.graph import CONSTANT
from .storage import FRESH_OUTPUTS, FTensor, InputSource, KnownOutputs, ViewOutputs
from .views import LAYOUT_SENSITIVE, ViewStep, has_inverse, layout_of, scatter_back

aten = torch.ops.aten


def _proxy(node: torch.fx.Node) -> TensorProxy:
    return TensorProxy(node, node.meta["st_meta"])


def _is_tensor_node(node: torch.fx.Node) -> bool:
    return isinstance(node.meta.get("st_meta"), TensorMeta)


class Functionalizer:
    """Rewrites one fx.Graph in place. `inputs` maps placeholders to what they are."""

    def __init__(self, graph: torch.fx.Graph, inputs: dict[torch.fx.Node, InputSource],
                 shape_env: Any, export_grad: bool, allow_input_mutation: bool = True,
                 sym_nodes: Any = None) -> None:
        self.graph = graph
        self.inputs = inputs
        self.export_grad = export_grad
        self.allow_input_mutation = allow_input_mutation
        self.emitter = PassEmitter(graph, shape_env, (export_grad, 0), sym_nodes)
        self.values: dict[torch.fx.Node, Any] = {}
        self.replaced: list[torch.fx.Node] = []
        self.current: torch.fx.Node | None = None

    # ------------------------------------------------------------------ driver
    def run(self) -> list[InputSource]:
        """Rewrite the graph; return the written inputs in placeholder order."""
        node = next(iter(self.graph.nodes))
        while node.op != "output":
            following = node.next
            if node.op == "placeholder":
                self._visit_placeholder(node)
            elif node.op == "call_function":
                self.current = node
                with self.graph.inserting_before(node), self.emitter.source(node):
                    restart = self._visit_call(node)
                if restart is not None:
                    following = restart
            node = following
        written = self._finish_outputs(node)
        for old in reversed(self.replaced):
            if old.users:
                raise InternalTracerError(f"functionalization left uses of {old.format_node()}")
            self.graph.erase_node(old)
        return written

    def _visit_placeholder(self, node: torch.fx.Node) -> None:
        if _is_tensor_node(node):
            self.values[node] = FTensor.fresh(_proxy(node), self.inputs.get(node))

    def _visit_call(self, node: torch.fx.Node) -> torch.fx.Node | None:
        op = node.target
        if op is operator.getitem:
            self._visit_getitem(node)
        elif not isinstance(op, torch._ops.OpOverload):
            self._keep_functional(node)
        elif op is aten.lift_fresh_copy.default:
            self._visit_lift_fresh(node)
        elif identity_dropout(node):
            self._visit_input_itself(node)
        else:
            facts = op_facts(op)
            kind = facts.kind
            if kind is Kind.FUNCTIONAL:
                if is_cia(op) and self._hides_writes(node):
                    return self._decompose(node)
                self._keep_functional(node)
            elif kind is Kind.VIEW:
                self._visit_view(node)
            elif kind is Kind.MUTATION:
                self._visit_mutation(node, facts)
            elif kind is Kind.INPLACE_VIEW:
                self._visit_inplace_view(node, facts)
            else:
                return self._decompose(node)
        return None

    # ------------------------------------------------------------------ reading
    def read(self, ft: FTensor) -> TensorProxy:
        """The current value of a traced tensor (remaking it from its base if needed)."""
        storage = ft.storage
        if storage.no_grad_write and self.emitter.grad_enabled:
            raise refusal(self.current,
                          "a tensor that requires grad was changed in place under torch.no_grad() "
                          "and is used again with grad enabled; its gradient cannot be expressed "
                          "in a functional graph",
                          "compute a new tensor under no_grad instead of changing this one in place")
        if not ft.chain:
            return storage.value
        if ft.cached is not None and ft.cached_version == storage.version:
            return ft.cached
        value = storage.value
        for step in ft.chain:
            if step.opaque:
                raise refusal(self.current, f"the result of {step.op} on a dynamically shaped tensor "
                                            "is read after the tensor it came from was changed in "
                                            "place; whether it shares memory with that tensor "
                                            "depends on the sizes",
                              "call .clone() on the result, or change the tensor before the "
                              f"{step.op.overloadpacket.__name__}")
            value = self._replay(step, value)
        ft.cached, ft.cached_version = value, storage.version
        return value

    def _replay(self, step: ViewStep, base: TensorProxy) -> TensorProxy:
        self._check_layout(step, base)
        with self.emitter.source(step.origin):
            return step.replay(base, self.emitter.emit)

    def _check_layout(self, step: ViewStep, base: TensorProxy) -> None:
        """as_strided addresses storage: valid only on a value laid out like eager's input."""
        if step.op not in LAYOUT_SENSITIVE:
            return
        if step.input_layout != (base.meta.strides, base.meta.storage_offset):
            raise refusal(step.origin, f"{step.op} of a tensor whose layout changed after a mutation "
                                       "cannot be remade soundly",
                          "use view/slice/select instead of as_strided on mutated tensors")

    def _arg(self, value: Any, as_node: bool) -> Any:
        """Map a traced argument to its current value (fx node or TensorProxy)."""
        if isinstance(value, torch.fx.Node):
            ft = self.values.get(value)
            if isinstance(ft, FTensor):
                proxy = self.read(ft)
                return proxy.node if as_node else proxy
            if not as_node and _is_tensor_node(value):
                raise InternalTracerError(f"no value for {value.format_node()}")
            return value
        if isinstance(value, (list, tuple)):
            items = [self._arg(v, as_node) for v in value]
            if as_node and all(a is b for a, b in zip(items, value)):
                return value        # the same nodes: the container itself (see below)
            return (tuple if isinstance(value, tuple) else list)(items)
        if isinstance(value, dict):
            items = {k: self._arg(v, as_node) for k, v in value.items()}
            return value if as_node and all(items[k] is v for k, v in value.items()) else items
        return value

    def _remap_in_place(self, node: torch.fx.Node) -> None:
        """Arguments read their current values. In a graph without writes they are the same
        nodes (found by reading each input node once, in the order `_arg` reads them): not
        assigned again (an assignment rebuilds the node's uses)."""
        if all(self.read(ft).node is arg for arg in node._input_nodes
               if isinstance(ft := self.values.get(arg), FTensor)):
            return
        args, kwargs = self._arg(node.args, True), self._arg(node.kwargs, True)
        if args is not node.args:
            node.args = args
        if kwargs is not node.kwargs:
            node.kwargs = kwargs

    # ------------------------------------------------------------------ kept nodes
    def _keep_functional(self, node: torch.fx.Node) -> None:
        self._remap_in_place(node)
        meta = node.meta.get("st_meta")
        if isinstance(meta, TensorMeta):
            self.values[node] = FTensor.fresh(_proxy(node))
        elif isinstance(meta, (list, tuple)):      # a multi-output op (list), a HOP (tuple)
            self.values[node] = FRESH_OUTPUTS

    def _visit_view(self, node: torch.fx.Node) -> None:
        base = self.values.get(node.args[0])
        if not isinstance(base, FTensor):
            self._keep_functional(node)
            return
        layout = layout_of(node)
        self._remap_in_place(node)
        meta = node.meta.get("st_meta")
        if isinstance(meta, list):
            self.values[node] = ViewOutputs(base, node.target, tuple(node.args[1:]), dict(node.kwargs),
                                            node, base.storage.version)
        else:
            step = ViewStep(node.target, tuple(node.args[1:]), dict(node.kwargs), None, node,
                            input_layout=layout)
            self.values[node] = base.view(step, meta, _proxy(node))

    def _visit_getitem(self, node: torch.fx.Node) -> None:
        source, index = node.args
        outputs = self.values.get(source)
        if isinstance(outputs, ViewOutputs):
            step = ViewStep(outputs.op, outputs.args, outputs.kwargs, index, outputs.origin,
                            outputs.opaque)
            current = outputs.base.storage.version == outputs.version
            # A getitem made after a write to the base is stale: reads remake the view.
            self.values[node] = outputs.base.view(step, node.meta["st_meta"],
                                                  _proxy(node) if current else None)
        elif isinstance(outputs, KnownOutputs):
            self.values[node] = outputs.items[index]
            self.replaced.append(node)
        elif outputs is FRESH_OUTPUTS and _is_tensor_node(node):
            self.values[node] = FTensor.fresh(_proxy(node))

    def _visit_lift_fresh(self, node: torch.fx.Node) -> None:
        # torch.tensor(...) in forward makes a new tensor per call: a copy of the constant.
        (arg,) = node.args
        value = self.emitter.emit(aten.clone.default, (self._arg(arg, False),), {})
        self.values[node] = FTensor.fresh(value)
        self.replaced.append(node)

    # ------------------------------------------------------------------ writes
    def _visit_mutation(self, node: torch.fx.Node, facts) -> None:
        if facts.functional is None and auto_functionalizable(node.target):
            return functionalize_custom_op(self, node)
        if facts.functional is None:
            raise refusal(node, f"{node.target} writes its arguments and has no functional variant "
                                "in ATen, so it cannot be captured in a functional graph",
                          "use the out-of-place form of this op")
        args = self._arg(tuple(node.args), False)
        kwargs = {k: self._arg(v, False) for k, v in node.kwargs.items() if k not in facts.drop_kwargs}
        targets = []
        for m in facts.mutated:     # None: an optional mutable argument that was not given
            positional = not m.kwarg_only and m.index < len(node.args)
            targets.append(node.args[m.index] if positional else node.kwargs.get(m.name))
        result = self.emitter.emit(facts.functional, args, kwargs)
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        for k, target in enumerate(targets):
            new = results[facts.fresh_returns + k]
            if isinstance(target, torch.fx.Node):
                self.write(self.values[target], new)
            elif isinstance(target, (list, tuple)):
                for t, v in zip(target, new):
                    self.write(self.values[t], v)
        outputs = []
        for kind, index in facts.returns:
            if kind == "arg":
                target = targets[index]
                outputs.append(self.values[target] if isinstance(target, torch.fx.Node)
                               else [self.values[t] for t in target])
            else:
                outputs.append(FTensor.fresh(results[index]))
        if len(facts.returns) == 1 and not isinstance(outputs[0], list):
            self.values[node] = outputs[0]
        elif outputs:
            self.values[node] = KnownOutputs(outputs)
        self.replaced.append(node)

    def write(self, ft: FTensor, new: TensorProxy) -> None:
        """`ft` now holds `new`: give its storage the new base value."""
        storage = ft.storage
        source = storage.source
        if source is not None and source.kind == CONSTANT:
            raise refusal(self.current, f"the constant tensor '{source.target}' is changed in place; "
                                        "an exported program cannot change its constants",
                          "register the tensor as a buffer (self.register_buffer) so the change "
                          "becomes a buffer mutation", Category.SIDE_EFFECT)
        if source is not None and not self.allow_input_mutation:
            raise refusal(self.current, "a subgraph changes one of its inputs in place",
                          "return the new value from the subgraph instead", Category.SIDE_EFFECT)
        if new.meta.dtype != ft.meta.dtype:
            new = self.emitter.emit(aten._to_copy.default, (new,),
                                    {"dtype": ft.meta.dtype, "layout": ft.meta.layout})
        if not _same_shape(new.meta.shape, ft.meta.shape) and \
                not _equal_at_hints_guarded(new.meta.shape, ft.meta.shape):
            if ft.chain or source is not None or storage.has_views:
                raise refusal(self.current, f"an out= op resizes a tensor ({ft.meta.short_str()} -> "
                                            f"{new.meta.short_str()}) that other tensors alias",
                              "allocate the out= tensor with the result's shape")
            ft.meta = new.meta
        if not self.emitter.grad_enabled and storage.value.meta.requires_grad and source is None:
            # (A program input changed under no_grad becomes a PARAMETER/USER_INPUT mutation,
            # as in torch.export's functional form: later reads see the new value, and the
            # write-back into a grad-requiring leaf fails loudly when run with grad enabled.)
            storage.no_grad_write = True
        value = new
        if ft.chain:
            bases = [storage.value]
            for step in ft.chain[:-1]:
                bases.append(self._replay(step, bases[-1]))
            for step, base in zip(reversed(ft.chain), reversed(bases)):
                if step.opaque:
                    raise refusal(self.current, f"a tensor made by {step.op} from a dynamically "
                                                "shaped tensor is changed in place; whether that "
                                                "changes the original tensor depends on the sizes",
                                  "call .clone() before changing it in place, or use view()")
                if not has_inverse(step):
                    raise refusal(self.current, f"writing through a view made by {step.op} is not "
                                                "supported", "write through slicing, select, view or "
                                                             "transpose, or copy the tensor first")
                self._check_layout(step, base)
                value = scatter_back(step, base, value, self.emitter.emit)
        storage.value = value
        storage.version += 1
        ft.cached, ft.cached_version = new, storage.version

    def _visit_inplace_view(self, node: torch.fx.Node, facts) -> None:
        ft = self.values.get(node.args[0])
        if facts.view_op is None or not isinstance(ft, FTensor):
            raise refusal(node, f"{node.target} changes a tensor's size or storage in place, which a "
                                "functional graph cannot express", "use the out-of-place op")
        if ft.storage.source is not None and not ft.chain:
            raise refusal(node, f"{node.target} changes the metadata of an input tensor in place",
                          "use the out-of-place view op (e.g. x = x.unsqueeze(0))", Category.SIDE_EFFECT)
        traced = node.args[0].meta.get("st_meta")
        layout = (traced.strides, traced.storage_offset) if facts.view_op in LAYOUT_SENSITIVE else None
        rest = self._arg(tuple(node.args[1:]), True)
        kwargs = self._arg(dict(node.kwargs), True)
        step = ViewStep(facts.view_op, rest, kwargs, None, node, input_layout=layout)
        value = step.replay(self.read(ft), self.emitter.emit)
        ft.chain = ft.chain + (step,)
        ft.meta = value.meta
        ft.storage.has_views = True
        ft.cached, ft.cached_version = value, ft.storage.version
        self.values[node] = ft
        self.replaced.append(node)

    # ------------------------------------------------------------------ decompositions
    def _traced_args(self, node: torch.fx.Node) -> tuple[tuple, dict]:
        """`node`'s arguments as proxies of the traced nodes and symbolic values."""
        args = self.emitter.values(tuple(_traced_proxy(a) for a in node.args))
        kwargs = self.emitter.values({k: _traced_proxy(v) for k, v in node.kwargs.items()})
        return args, kwargs

    def _hides_writes(self, node: torch.fx.Node) -> bool:
        args, kwargs = self._traced_args(node)
        return hides_writes(node.target, args, kwargs, self.emitter.grad_enabled)

    def _decompose(self, node: torch.fx.Node) -> torch.fx.Node | None:
        """Replace `node` by its decomposition; return the first new node (to walk next)."""
        if _narrow_as_slice(node):
            return node     # now a slice: visit it as a view
        args, kwargs = self._traced_args(node)
        if has_symbolic((args, kwargs)) or _has_fx_node((args, kwargs)):
            # The oracle records decompositions at the hint sizes.
            if node.target is aten.contiguous.default and self._decide_contiguous(node, args, kwargs):
                return None
            if any(r.alias_info is not None for r in node.target._schema.returns) and \
                    not aliasing_is_size_independent(node.target, args, kwargs):
                self._keep_opaque_view(node)
                return None
            if _has_fx_node((args, kwargs)):
                raise refusal(node, f"{node.target} may write or alias its inputs, and its "
                                    "decomposition takes a size computed in the graph",
                              "export with static shapes for this part of the model")
        before = node.prev
        out = self.emitter.emit(node.target, args, kwargs, decompose=needs_decomposition)
        if isinstance(out, TensorProxy):
            node.replace_all_uses_with(out.node)
        elif isinstance(out, (list, tuple)):
            for user in list(node.users):
                if user.target is not operator.getitem:
                    raise InternalTracerError(f"{user.format_node()} uses a multi-output node")
                item = out[user.args[1]]
                user.replace_all_uses_with(item.node if isinstance(item, TensorProxy) else item)
                self.graph.erase_node(user)
        elif node.users:
            raise InternalTracerError(f"decomposition of {node.target} returned {type(out).__name__}")
        self.graph.erase_node(node)
        return before.next

    def _decide_contiguous(self, node: torch.fx.Node, args: tuple, kwargs: dict) -> bool:
        """x.contiguous() is x itself when x is contiguous, else a copy: decided for every size
        the program accepts by the engine (guards where the ranges do not decide it)."""
        memory_format = kwargs.get("memory_format", torch.contiguous_format)
        x = args[0]
        if memory_format is not torch.contiguous_format or not isinstance(x, TensorProxy):
            return False
        contiguous = is_contiguous(x.meta)
        if not contiguous and x.meta.sized_by_data:
            return False    # undecided for sizes read from data ((3, u0).t() is contiguous for
            #                 u0 <= 1): an opaque view, never a copy
        if contiguous:
            self._visit_input_itself(node)
        else:
            node.target = aten.clone.default
            node.kwargs = {"memory_format": torch.contiguous_format}
            self._keep_functional(node)
        return True

    def _visit_input_itself(self, node: torch.fx.Node) -> None:
        """An op that returns its input tensor itself (eager aliases the two): walked as a view,
        so a later write to either shows in both, and read as a clone of the input's current
        value, which is how torch's functional form writes it."""
        node.target, node.args, node.kwargs = aten.clone.default, (node.args[0],), {}
        self._visit_view(node)

    def _keep_opaque_view(self, node: torch.fx.Node) -> None:
        """Keep a maybe-aliasing op (reshape, contiguous, ...) as a view nobody may write
        through or read after its base changes: the aliasing depends on dynamic sizes."""
        base = self.values.get(node.args[0])
        if not isinstance(base, FTensor):
            self._keep_functional(node)
            return
        self._remap_in_place(node)
        meta = node.meta.get("st_meta")
        if isinstance(meta, list):
            self.values[node] = ViewOutputs(base, node.target, tuple(node.args[1:]), dict(node.kwargs),
                                            node, base.storage.version, opaque=True)
        else:
            step = ViewStep(node.target, tuple(node.args[1:]), dict(node.kwargs), None, node, opaque=True)
            self.values[node] = base.view(step, meta, _proxy(node))

    # ------------------------------------------------------------------ outputs
    def _finish_outputs(self, output: torch.fx.Node) -> list[InputSource]:
        self.current = None
        written: list[torch.fx.Node] = []
        with self.graph.inserting_before(output), self.emitter.source(None):
            user_values = self._arg(output.args[0], True)   # subgraphs may return one node
            sources = []
            for node in self.graph.nodes:
                if node.op != "placeholder":
                    continue
                ft = self.values.get(node)
                if isinstance(ft, FTensor) and ft.storage.version > 0 and ft.storage.source is not None:
                    sources.append(ft.storage.source)
                    written.append(ft.storage.value.node)
        output.args = ((*written, *user_values) if written else user_values,)
        return sources


def is_contiguous(meta: TensorMeta) -> bool:
    """torch's is_contiguous on symbolic sizes and strides (a view's own strides, else laid out
    like the hint strides). Decisions are guards."""
    return layout.is_contiguous(meta.shape, layout_strides(meta, list(meta.shape)))


def _same_shape(a: tuple, b: tuple) -> bool:
    """Structural comparison (== on symbolic sizes would record a guard), of sizes as the
    engine knows them now: a symbol since pinned to 6 (by a weight's shape) is 6."""
    return len(a) == len(b) and all(_resolved(x) == _resolved(y) for x, y in zip(a, b))


def _equal_at_hints_guarded(a: tuple, b: tuple) -> bool:
    """Shapes equal at the hints are equal: guards (an out= write checks the sizes, and
    torch.export learns from that check that, e.g., a running mean has the input's channels)."""
    if len(a) != len(b) or any(_hint_of(x) is None or _hint_of(x) != _hint_of(y) for x, y in zip(a, b)):
        return False
    return all(bool(x == y) for x, y in zip(a, b))


def _hint_of(size: Any) -> Any:
    return size if type(size) is int else size.hint


def _resolved(size: Any) -> Any:
    expr = size if type(size) is int else size.env.resolve(size.expr)
    return int(expr) if type(expr) is int or expr.is_Integer else expr


def _narrow_as_slice(node: torch.fx.Node) -> bool:
    """narrow(x, dim, start, length) with a constant start >= 0 and length is always the view
    slice(x, dim, start, start + length), whatever the sizes: rewrite the node to it (which is
    also how torch's decomposition records it), so it can be written through with dynamic shapes."""
    if node.target is not aten.narrow.default or node.kwargs:
        return False
    _, dim, start, length = node.args
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (dim, start, length)) or start < 0:
        return False
    node.target = aten.slice.Tensor
    node.args = (node.args[0], dim, start, start + length)
    return True


def _has_fx_node(value: Any) -> bool:
    """A non-tensor node among the arguments (a size computed in the graph)."""
    if isinstance(value, (list, tuple, dict)):
        return any(_has_fx_node(v) for v in (value.values() if isinstance(value, dict) else value))
    return isinstance(value, torch.fx.Node)


def _traced_proxy(value: Any) -> Any:
    """Arguments of a traced node as proxies of the traced nodes (for decompositions)."""
    if isinstance(value, torch.fx.Node):
        return _proxy(value) if _is_tensor_node(value) else value
    if isinstance(value, (list, tuple)):
        return (tuple if isinstance(value, tuple) else list)(_traced_proxy(v) for v in value)
    return value

