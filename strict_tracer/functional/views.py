"""View steps: how a view was made from its base, how to remake it, how to write through it.

A tensor that aliases a base is the base plus a chain of `ViewStep`s. Reading it after the
base changed replays the chain on the base's new value; writing a new value into it runs the
chain's inverses from the inside out (`x[1:3].mul_(10)` -> `slice_scatter(x, mul, 0, 1, 3)`).
Which ATen ops are views comes from their schemas (schema.py); this module knows, per view
op, the op that scatters a view's new value back into its base.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.fx

from ..proxy import TensorProxy

aten = torch.ops.aten

# emit(op, args, kwargs) -> proxy (or tuple of proxies): builds nodes in the functional graph.
Emit = Callable[[Any, tuple, dict], Any]


@dataclass(frozen=True)
class ViewStep:
    op: Any                       # the view OpOverload
    args: tuple                   # its arguments after the base (constants or fx nodes)
    kwargs: dict
    item: int | None              # element of a multi-output view (split, unbind), else None
    origin: torch.fx.Node         # the traced node that made the view: its metadata and grad
                                  # mode are those of every remade copy
    opaque: bool = False          # may or may not alias (reshape of a dynamic shape): the
                                  # view can be neither remade after a write nor written through
    input_layout: tuple | None = None   # (strides, storage offset) of the traced input, for
                                        # views whose meaning depends on it (as_strided)

    def replay(self, base: TensorProxy, emit: Emit) -> TensorProxy:
        out = emit(self.op, (base, *self.args), dict(self.kwargs))
        return out if self.item is None else out[self.item]


# Views whose meaning depends on the strides and storage offset of their input.
LAYOUT_SENSITIVE = frozenset({aten.as_strided.default, aten._reshape_alias.default})


def layout_of(node: torch.fx.Node) -> tuple | None:
    """The traced (eager) layout of a view's input, recorded for layout-sensitive views."""
    if node.target not in LAYOUT_SENSITIVE or not isinstance(node.args[0], torch.fx.Node):
        return None
    meta = node.args[0].meta.get("st_meta")
    return None if meta is None else (meta.strides, meta.storage_offset)


def _dim(d: int, ndim: int) -> int:
    return d + ndim if d < 0 else d


def _split_bounds(step: ViewStep, base: TensorProxy, view: TensorProxy) -> tuple[int, int, int]:
    name = step.op.overloadpacket.__name__
    args = step.args
    dim = _dim(args[1] if len(args) > 1 else step.kwargs.get("dim", 0), base.meta.ndim)
    if name == "split_with_sizes":
        sizes = list(args[0])
        start = sum(sizes[:step.item])
    else:
        start = args[0] * step.item
    return dim, start, start + view.meta.shape[dim]


def _inverse_split(step, base, view, emit):
    dim, start, end = _split_bounds(step, base, view)
    return emit(aten.slice_scatter.default, (base, view, dim, start, end), {})


def _inverse_unbind(step, base, view, emit):
    dim = step.args[0] if step.args else step.kwargs.get("dim", 0)
    return emit(aten.select_scatter.default, (base, view, dim, step.item), {})


def _inverse_slice(step, base, view, emit):
    return emit(aten.slice_scatter.default, (base, view, *step.args), dict(step.kwargs))


def _inverse_select(step, base, view, emit):
    return emit(aten.select_scatter.default, (base, view, *step.args), {})


def _inverse_diagonal(step, base, view, emit):
    return emit(aten.diagonal_scatter.default, (base, view, *step.args), dict(step.kwargs))


def _inverse_as_strided(step, base, view, emit):
    return emit(aten.as_strided_scatter.default, (base, view, *step.args), dict(step.kwargs))


def _inverse_reshape(step, base, view, emit):
    return emit(aten.view.default, (view, list(base.meta.shape)), {})


def _inverse_view_dtype(step, base, view, emit):
    return emit(aten.view.dtype, (view, base.meta.dtype), {})


def _inverse_identity(step, base, view, emit):
    return view


def _inverse_transpose(step, base, view, emit):
    return emit(aten.transpose.int, (view, *step.args), {})


def _inverse_t(step, base, view, emit):
    return emit(aten.t.default, (view,), {})


def _inverse_permute(step, base, view, emit):
    dims = [_dim(d, base.meta.ndim) for d in step.args[0]]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return emit(aten.permute.default, (view, inverse), {})


def _inverse_unsqueeze(step, base, view, emit):
    return emit(aten.squeeze.dim, (view, _dim(step.args[0], view.meta.ndim)), {})


def _inverse_squeeze(step, base, view, emit):
    # Unsqueeze the dims squeeze removed, lowest first, so later indices stay right.
    # Symbolic sizes are never 1 (torch specializes 0 and 1), so no guard is needed here.
    shape = base.meta.shape
    if step.op is aten.squeeze.default:
        dims = [d for d, s in enumerate(shape) if type(s) is int and s == 1]
    else:
        wanted = step.args[0] if step.op is aten.squeeze.dims else [step.args[0]]
        dims = sorted({_dim(d, len(shape)) for d in wanted
                       if type(shape[_dim(d, len(shape))]) is int and shape[_dim(d, len(shape))] == 1})
    out = view
    for d in dims:
        out = emit(aten.unsqueeze.default, (out, d), {})
    return out


def _inverse_expand(step, base, view, emit):
    # Writes through an expand only pass eager's overlap check when nothing was broadcast.
    return emit(aten.view.default, (view, list(base.meta.shape)), {})


def _inverse_view_as_real(step, base, view, emit):
    return emit(aten.view_as_complex.default, (view,), {})


def _inverse_view_as_complex(step, base, view, emit):
    return emit(aten.view_as_real.default, (view,), {})


# View op -> inverse(step, base value, new view value, emit) -> new base value.
INVERSES: dict[Any, Callable] = {
    aten.slice.Tensor: _inverse_slice,
    aten.select.int: _inverse_select,
    aten.diagonal.default: _inverse_diagonal,
    aten.as_strided.default: _inverse_as_strided,
    aten.view.default: _inverse_reshape,
    aten._reshape_alias.default: _inverse_reshape,
    aten.view.dtype: _inverse_view_dtype,
    aten.alias.default: _inverse_identity,
    aten.detach.default: _inverse_identity,
    # Only as the step of an op that returns its input itself (Functionalizer.
    # _visit_input_itself: an identity dropout, contiguous() of a contiguous tensor).
    aten.clone.default: _inverse_identity,
    aten.transpose.int: _inverse_transpose,
    aten.t.default: _inverse_t,
    aten.permute.default: _inverse_permute,
    aten.unsqueeze.default: _inverse_unsqueeze,
    aten.squeeze.default: _inverse_squeeze,
    aten.squeeze.dim: _inverse_squeeze,
    aten.squeeze.dims: _inverse_squeeze,
    aten.expand.default: _inverse_expand,
    aten.split.Tensor: _inverse_split,
    aten.split_with_sizes.default: _inverse_split,
    aten.unbind.int: _inverse_unbind,
    aten.view_as_real.default: _inverse_view_as_real,
    aten.view_as_complex.default: _inverse_view_as_complex,
}


def has_inverse(step: ViewStep) -> bool:
    return not step.opaque and step.op in INVERSES


def scatter_back(step: ViewStep, base: TensorProxy, view: TensorProxy, emit: Emit) -> TensorProxy:
    """The new value of `base` after its view (made by `step`) took the value `view`."""
    return INVERSES[step.op](step, base, view, emit)

