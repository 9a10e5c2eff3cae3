"""torch.distributed's in-place collectives, captured as functional collectives.

An exported program cannot hold a c10d `Work` handle or mutate a tensor through a process
group, so (as torch.export does through Dynamo's remapping) each supported in-place call
`dist.all_reduce(t)` is recorded as its functional collective followed by its wait and a copy
into the tensor the call writes:

    r = _c10d_functional.all_reduce(t, "sum", group_name); w = wait_tensor(r); t.copy_(w)

The group is resolved at trace time (its name and size are constants of the program, as in
torch's graph). `COLLECTIVES` is the table of what is supported; every other collective of
torch.distributed is refused with the list of supported ones. Output tensors must already have
the result's shape and dtype: a copy would otherwise broadcast or cast where the real
collective fails.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import torch

from ...errors import Category
from ...proxy import TensorProxy
from ..registry import special

# The c10d collectives with no functional counterpart here (refused, with the supported list).
_UNMAPPED = ("broadcast", "reduce", "scatter", "gather", "all_to_all", "reduce_scatter", "barrier",
             "monitored_barrier", "send", "recv", "isend", "irecv", "batch_isend_irecv",
             "all_reduce_coalesced", "all_gather_coalesced", "all_gather_object",
             "broadcast_object_list", "gather_object", "scatter_object_list", "send_object_list",
             "recv_object_list")


@dataclasses.dataclass(frozen=True)
class Collective:
    """One supported c10d call: its functional op and how its arguments map onto it."""
    name: str                 # torch.distributed.<name>
    functional: str           # torch.ops._c10d_functional.<functional>.default
    record: Callable[[Any, dict, Any], None]   # record(interp, bound arguments, group)


def _functional_op(name: str) -> Any:
    return getattr(torch.ops._c10d_functional, name).default


def _call(interp, op: Any, *args: Any) -> Any:
    return interp.call(op, args, {})


def _tensor(interp, value: Any, what: str) -> TensorProxy:
    if isinstance(value, torch.Tensor) and type(value) is not TensorProxy:
        value = interp.tensors.lift(value)
    if type(value) is not TensorProxy:
        raise interp.refuse(Category.UNSUPPORTED_NATIVE,
                            f"{what} must be a tensor, got {type(value).__name__}",
                            hint="pass tensors to the collective", operands=(value,))
    return value


def _waited(interp, functional: str, *args: Any) -> TensorProxy:
    """The collective's result, after its wait (the program's value of the collective)."""
    handle = _call(interp, _functional_op(functional), *args)
    return _call(interp, _functional_op("wait_tensor"), handle)


def _write(interp, name: str, output: TensorProxy, result: TensorProxy) -> None:
    """`output.copy_(result)`, refused unless `output` is exactly what the collective writes."""
    same = output.meta.dtype == result.meta.dtype and len(output.meta.shape) == len(result.meta.shape) \
        and all(a == b for a, b in zip(output.meta.shape, result.meta.shape))
    if not same:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.distributed.{name} writes a {result.meta.dtype} tensor of shape "
            f"{list(result.meta.shape)}, but the output tensor has dtype {output.meta.dtype} and "
            f"shape {list(output.meta.shape)}",
            hint="allocate the output with the collective's result shape and the input's dtype",
            operands=(output, result))
    _call(interp, torch.Tensor.copy_, output, result)


_REDUCE_OPS: dict[Any, str] = {}


def _reduce_op(interp, name: str, op: Any) -> str:
    if not _REDUCE_OPS:
        ops = torch.distributed.ReduceOp
        _REDUCE_OPS.update({ops.SUM: "sum", ops.AVG: "avg", ops.PRODUCT: "product", ops.MIN: "min",
                            ops.MAX: "max", ops.BAND: "band", ops.BOR: "bor", ops.BXOR: "bxor"})
    try:
        return _REDUCE_OPS[op]
    except (KeyError, TypeError):
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.distributed.{name} with op={op!r}: functional collectives support the "
            "reductions SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR and BXOR",
            hint="use one of those reductions") from None


def _all_reduce(interp, bound: dict, group: Any) -> None:
    tensor = _tensor(interp, bound["tensor"], "the tensor of all_reduce")
    op = _reduce_op(interp, "all_reduce", bound["op"])
    _write(interp, "all_reduce", tensor, _waited(interp, "all_reduce", tensor, op, group.group_name))


def _all_gather_into_tensor(interp, bound: dict, group: Any) -> None:
    output = _tensor(interp, bound["output_tensor"], "the output tensor of all_gather_into_tensor")
    source = _tensor(interp, bound["input_tensor"], "the input tensor of all_gather_into_tensor")
    gathered = _waited(interp, "all_gather_into_tensor", source, group.size(), group.group_name)
    _write(interp, "all_gather_into_tensor", output, gathered)


def _all_gather(interp, bound: dict, group: Any) -> None:
    outputs, source = bound["tensor_list"], _tensor(interp, bound["tensor"], "the input of all_gather")
    size = group.size()
    if not isinstance(outputs, list) or len(outputs) != size:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.distributed.all_gather needs a list of {size} output tensors (the group size)",
            hint="pass one output tensor per rank", operands=(outputs,))
    outputs = [_tensor(interp, t, "each output of all_gather") for t in outputs]
    if not source.meta.shape:
        raise interp.refuse(Category.UNSUPPORTED_NATIVE,
                            "torch.distributed.all_gather of a 0-dim tensor is not supported",
                            hint="gather x.reshape(1) instead", operands=(source,))
    gathered = _waited(interp, "all_gather_into_tensor", source, size, group.group_name)
    length = source.meta.shape[0]
    for rank, output in enumerate(outputs):    # rank r's part: rows [r*n, (r+1)*n)
        part = _call(interp, torch.ops.aten.slice.Tensor, gathered, 0, rank * length,
                     (rank + 1) * length)
        _write(interp, "all_gather", output, part)


def _reduce_scatter_tensor(interp, bound: dict, group: Any) -> None:
    output = _tensor(interp, bound["output"], "the output tensor of reduce_scatter_tensor")
    source = _tensor(interp, bound["input"], "the input tensor of reduce_scatter_tensor")
    op = _reduce_op(interp, "reduce_scatter_tensor", bound["op"])
    scattered = _waited(interp, "reduce_scatter_tensor", source, op, group.size(), group.group_name)
    _write(interp, "reduce_scatter_tensor", output, scattered)


def _even_splits(interp, tensor: TensorProxy, size: int, what: str) -> list[Any]:
    """[n // size] * size, the split of a dimension of n rows among `size` ranks."""
    rows = tensor.meta.shape[0] if tensor.meta.shape else 1
    if rows % size != 0:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.distributed.all_to_all_single without {what}_split_sizes splits the {what}'s "
            f"{rows} rows evenly among {size} ranks, which does not divide them",
            hint=f"pass {what}_split_sizes", operands=(tensor,))
    return [rows // size] * size


def _all_to_all_single(interp, bound: dict, group: Any) -> None:
    output = _tensor(interp, bound["output"], "the output tensor of all_to_all_single")
    source = _tensor(interp, bound["input"], "the input tensor of all_to_all_single")
    size = group.size()
    out_splits, in_splits = bound["output_split_sizes"], bound["input_split_sizes"]
    out_splits = list(out_splits) if out_splits is not None else _even_splits(interp, output, size, "output")
    in_splits = list(in_splits) if in_splits is not None else _even_splits(interp, source, size, "input")
    exchanged = _waited(interp, "all_to_all_single", source, out_splits, in_splits, group.group_name)
    _write(interp, "all_to_all_single", output, exchanged)


# torch.distributed.<name> -> its functional collective (aliases share one entry's code).
COLLECTIVES: dict[str, Collective] = {c.name: c for c in (
    Collective("all_reduce", "all_reduce", _all_reduce),
    Collective("all_gather", "all_gather_into_tensor", _all_gather),
    Collective("all_gather_into_tensor", "all_gather_into_tensor", _all_gather_into_tensor),
    Collective("all_gather_single", "all_gather_into_tensor", _all_gather_into_tensor),
    Collective("_all_gather_base", "all_gather_into_tensor", _all_gather_into_tensor),
    Collective("reduce_scatter_tensor", "reduce_scatter_tensor", _reduce_scatter_tensor),
    Collective("reduce_scatter_single", "reduce_scatter_tensor", _reduce_scatter_tensor),
    Collective("_reduce_scatter_base", "reduce_scatter_tensor", _reduce_scatter_tensor),
    Collective("all_to_all_single", "all_to_all_single", _all_to_all_single),
)}


def _process_group(interp, name: str, group: Any) -> Any:
    """The ProcessGroup a call runs on (None: the default group, as eager resolves it)."""
    c10d = torch.distributed.distributed_c10d
    if group is None:
        return c10d._get_default_group()    # eager's own error when there is none
    if not isinstance(group, torch.distributed.ProcessGroup):
        raise interp.refuse(Category.UNSUPPORTED_NATIVE,
                            f"torch.distributed.{name} got group={group!r}, not a ProcessGroup",
                            hint="pass a ProcessGroup (or None for the default group)")
    return group


def _supported_handler(fn: Callable, collective: Collective) -> Callable:
    signature = inspect.signature(fn)

    def handler(interp, args: tuple, kwargs: dict) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if arguments.get("async_op"):
            raise interp.refuse(
                Category.UNSUPPORTED_NATIVE,
                f"torch.distributed.{collective.name}(async_op=True) returns a Work handle, which "
                "an exported program cannot hold",
                hint="call it with async_op=False (the result is waited for where it is called)")
        group = _process_group(interp, collective.name, arguments.get("group"))
        collective.record(interp, arguments, group)
    return handler


def _unmapped_handler(name: str) -> Callable:
    def handler(interp, args: tuple, kwargs: dict) -> None:
        raise interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"torch.distributed.{name} has no functional collective strict_tracer captures; the "
            f"supported collectives are {', '.join(sorted(COLLECTIVES))}",
            hint="use one of those, or torch.distributed._functional_collectives")
    return handler


def _register() -> None:
    if not torch.distributed.is_available():
        return
    for name, collective in COLLECTIVES.items():
        fn = getattr(torch.distributed, name, None)
        if fn is not None:
            special(fn)(_supported_handler(fn, collective))
    for name in _UNMAPPED:
        fn = getattr(torch.distributed, name, None)
        if fn is not None:
            special(fn)(_unmapped_handler(name))


_register()


def _register_group_queries() -> None:
    """A process group's name, size and rank are constants of the traced program (as under
    torch.export): reading them runs natively. Its collectives methods stay refused."""
    group = torch.distributed.ProcessGroup

    def read(fn: Callable) -> Callable:
        def handler(interp, args: tuple, kwargs: dict) -> Any:
            return fn(*args, **kwargs)
        return handler
    for fn in (group.group_name.fget, group.group_desc.fget, group.size, group.rank, group.name):
        special(fn)(read(fn))


if torch.distributed.is_available():
    _register_group_queries()
