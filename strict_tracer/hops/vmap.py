"""torch.vmap / torch.func.vmap in forward(), captured as the batched ATen ops it runs.

torch.export's program, after `run_decompositions({})`, holds the ops vmap's batching rules
produce on the whole batch, with no trace of vmap left. strict_tracer gets the same in two
steps: our interpreter traces the function on one example (each batched argument without
its vmapped dimension) into a subgraph; then torch's own vmap runs that ATen subgraph on fake
tensors of the whole batch, a recording mode collects the ATen calls its batching rules make,
and those calls are replayed into the program (each recorded with its metadata as any other
op). torch's batching rules are kernel knowledge here, like meta kernels: the user's Python
only ever runs in our interpreter.

Supported: static shapes, int or None in_dims/out_dims in any pytree form vmap accepts,
every randomness mode and chunk_size. Refused: dynamic sizes, bodies holding control-flow
operators, and bodies that fail on one example (vmap's batching rules accept a few calls a
single example does not, such as channels_last on a logical 3-d tensor).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx
import torch.utils._pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from ..errors import Category, GraphBreakError
from ..interpreter.registry import CALL_SPECIAL, SPECIAL
from ..ops.oracle.fakes import example_of, fake_mode
from ..proxy import TensorMeta, TensorProxy
from ..trace.subgraph import SubgraphBuilder, trace_body

_WHAT = "the body of torch.vmap"
_DYNAMIC_HINT = "give the vmapped inputs static shapes (no Dim on them), or write the batched " \
                "computation directly (broadcasting, bmm, torch.einsum)"
_BATCHED_HINT = "write the batched computation directly (broadcasting, bmm, torch.einsum), or " \
                "apply vmap outside the exported module"


class Vmapped:
    """What `torch.vmap(func, ...)` returns while tracing: calling it captures the batch."""

    def __init__(self, func: Any, in_dims: Any, out_dims: Any, randomness: str,
                 chunk_size: int | None) -> None:
        self.func, self.in_dims, self.out_dims = func, in_dims, out_dims
        self.randomness, self.chunk_size = randomness, chunk_size

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Called outside the trace (the object escaped it): eager vmap."""
        return torch.vmap(self.func, self.in_dims, self.out_dims, self.randomness,
                          chunk_size=self.chunk_size)(*args, **kwargs)


def _vmap(interp, args: tuple, kwargs: dict) -> Vmapped:
    names = ("func", "in_dims", "out_dims", "randomness")
    values = {"in_dims": 0, "out_dims": 0, "randomness": "error", "chunk_size": None}
    values.update(zip(names, args))
    values.update(kwargs)
    if "func" not in values or not callable(values["func"]):
        raise TypeError("vmap(func): func must be callable")
    if values["randomness"] not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {values['randomness']}")
    return Vmapped(values["func"], values["in_dims"], values["out_dims"], values["randomness"],
                   values["chunk_size"])


def _call(interp, vmapped: Vmapped, args: tuple, kwargs: dict) -> Any:
    if interp.state.autocast.op_dtype() is not None:
        # Autocast casts vmap's logical ops (linear), the replay would cast the batched ones
        # (mm, then a bias add in float32): the dtypes would differ from eager's.
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            "torch.vmap inside an enabled torch.autocast block is not supported",
                            hint="call the vmapped function outside the autocast block")
    flat, spec = pytree.tree_flatten(args)
    dims = pytree._broadcast_to_and_flatten(vmapped.in_dims, spec)
    if dims is None:
        raise ValueError(f"vmap: in_dims {vmapped.in_dims!r} is not compatible with the "
                         "structure of the inputs")
    batched = _batched_inputs(interp, flat, dims)
    builder = SubgraphBuilder(interp, interp.state.graph, _WHAT)
    examples = list(flat)
    for index, (proxy, dim) in batched.items():
        examples[index] = builder.explicit_input(_example_meta(proxy.meta, dim), proxy.origin)
    out_leaves, out_spec = _trace_example(interp, builder, vmapped.func,
                                          pytree.tree_unflatten(examples, spec), kwargs)
    builder.finish(out_leaves, outputs_may_alias=True)
    builder.order_inputs(list(builder.free))
    _check_static(interp, builder)
    outer = [proxy for proxy, _ in batched.values()]
    free = [TensorProxy(node, node.meta["st_meta"], f"read by {_WHAT}") for node in builder.free]
    calls, outputs, fakes = _record_batched(interp, vmapped, builder, outer, free,
                                            [dim for _, dim in batched.values()], out_spec)
    return _replay(interp, calls, outputs, fakes, outer + free)


def _batched_inputs(interp, flat: list, dims: list) -> dict[int, tuple[TensorProxy, int]]:
    """Index of each argument leaf vmap batches -> (its proxy, its normalized dim)."""
    batched, size = {}, None
    for index, (leaf, dim) in enumerate(zip(flat, dims)):
        if dim is None:
            continue
        if isinstance(leaf, torch.Tensor) and type(leaf) is not TensorProxy:
            leaf = interp.tensors.lift(leaf)
        if type(leaf) is not TensorProxy:
            raise ValueError(f"vmap: Got in_dim={dim} for an input but the input is of type "
                             f"{type(leaf)}. We cannot vmap over non-Tensor arguments")
        ndim = len(leaf.meta.shape)
        if not isinstance(dim, int) or not -max(ndim, 1) <= dim < max(ndim, 1) or ndim == 0:
            raise ValueError(f"vmap: Got in_dim={dim} for an input with {ndim} dimensions")
        if not leaf.meta.is_static:
            raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                                "torch.vmap over a tensor with dynamic sizes is not supported",
                                hint=_DYNAMIC_HINT, operands=(leaf,))
        dim %= ndim
        if size is not None and leaf.meta.shape[dim] != size:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {size} and {leaf.meta.shape[dim]}")
        size = leaf.meta.shape[dim]
        batched[index] = (leaf, dim)
    if not batched:
        raise ValueError("vmap: at least one input must be a Tensor batched by in_dims")
    return batched


def _example_meta(meta: TensorMeta, dim: int) -> TensorMeta:
    """One example of a batch: the tensor without its vmapped dimension (a select's layout)."""
    keep = [i for i in range(len(meta.shape)) if i != dim]
    return TensorMeta(tuple(meta.shape[i] for i in keep), meta.dtype, meta.device,
                      meta.requires_grad, tuple(meta.strides[i] for i in keep), 0, meta.layout)


def _trace_example(interp, builder: SubgraphBuilder, func: Any, args: tuple, kwargs: dict):
    try:
        result = trace_body(interp, builder, func, args, kwargs)
    except GraphBreakError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise interp.refuse(
            Category.UNSUPPORTED_PYTHON,
            f"{_WHAT} fails on a single example ({type(exc).__name__}: {exc}); strict_tracer "
            "traces the body per example, and vmap's batching rules accept some calls a single "
            "example does not", hint=_BATCHED_HINT) from None
    leaves, spec = pytree.tree_flatten(result)
    for index, leaf in enumerate(leaves):
        if isinstance(leaf, torch.Tensor) and type(leaf) is not TensorProxy:
            leaves[index] = interp.tensors.lift(leaf)
        elif type(leaf) is not TensorProxy:
            raise ValueError(f"vmap: the function must return tensors, got {type(leaf).__name__} "
                             f"as output {index}")
    return leaves, spec


def _check_static(interp, builder: SubgraphBuilder) -> None:
    if builder.submodules:
        raise interp.refuse(Category.CONTROL_FLOW_OP,
                            f"{_WHAT} uses a control-flow operator, which is not supported there",
                            hint="apply the operator outside the vmapped function")
    for node in builder.graph.nodes:
        meta = node.meta.get("st_meta")
        if node.op == "call_function" and not isinstance(meta, (TensorMeta, tuple, list)) \
                or isinstance(meta, TensorMeta) and not meta.is_static:
            raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                                f"{_WHAT} computes sizes or values symbolically ({node.format_node()})",
                                hint=_DYNAMIC_HINT)


class _Recorder(TorchDispatchMode):
    """Every ATen call vmap's batching rules make on the whole batch, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, tuple, dict, Any]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.calls.append((func, args, kwargs, out))
        return out


def _run_graph(graph: torch.fx.Graph, inputs: list) -> Any:
    env: dict[torch.fx.Node, Any] = {}
    values = iter(inputs)
    for node in graph.nodes:
        if node.op == "placeholder":
            env[node] = next(values)
        elif node.op == "call_function":
            args = torch.fx.map_arg(node.args, env.__getitem__)
            kwargs = torch.fx.map_arg(node.kwargs, env.__getitem__)
            env[node] = node.target(*args, **kwargs)
        elif node.op == "output":
            return torch.fx.map_arg(node.args[0], env.__getitem__)
    raise AssertionError("graph without output")


def _record_batched(interp, vmapped: Vmapped, builder: SubgraphBuilder, outer: list, free: list,
                    dims: list, out_spec: Any) -> tuple[list, Any, list]:
    """Run torch.vmap of the example graph on fakes of the batch: (the calls, the fake
    outputs, the fakes standing for `outer` and `free`)."""
    fakes = [example_of(p.meta) for p in outer]
    free_fakes = [example_of(p.meta) for p in free]

    def example(*batched):
        return pytree.tree_unflatten(list(_run_graph(builder.graph, [*batched, *free_fakes])), out_spec)
    recorder = _Recorder()
    try:
        with fake_mode(), torch.set_grad_enabled(interp.state.grad_enabled), recorder:
            outputs = torch.vmap(example, in_dims=tuple(dims), out_dims=vmapped.out_dims,
                                 randomness=vmapped.randomness, chunk_size=vmapped.chunk_size)(*fakes)
    except (RuntimeError, ValueError) as exc:
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            f"torch.vmap of this function fails: {exc}",
                            hint="check the function runs under torch.vmap in eager") from None
    return recorder.calls, outputs, fakes + free_fakes


def _replay(interp, calls: list, outputs: Any, fakes: list, inputs: list) -> Any:
    """Record the batched calls in the program; the proxies of vmap's outputs."""
    env = {id(fake): proxy for fake, proxy in zip(fakes, inputs)}

    def proxy_of(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            try:
                return env[id(value)]
            except KeyError:
                raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                                    f"torch.vmap's batched computation reads a tensor strict_tracer "
                                    "did not record", hint=_BATCHED_HINT) from None
        return value
    for func, args, kwargs, out in calls:
        result = interp.call(func, pytree.tree_map(proxy_of, args), pytree.tree_map(proxy_of, kwargs))
        for fake, proxy in zip(pytree.tree_leaves(out), pytree.tree_leaves(result)):
            if isinstance(fake, torch.Tensor):
                env[id(fake)] = proxy
    return pytree.tree_map(proxy_of, outputs)

SPECIAL[torch.func.vmap] = _vmap
CALL_SPECIAL[Vmapped] = _call
