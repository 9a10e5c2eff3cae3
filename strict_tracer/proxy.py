"""TensorProxy: the abstract value of a tensor during tracing.

A proxy is a plain Python object (deliberately *not* a torch.Tensor subclass, so native torch
code that receives one fails loudly instead of computing on it). It holds the FX node that
produces the tensor and the tensor's metadata. Python operators applied to a proxy by native
code (e.g. `sum()` over a list of tensors) are routed back into the active trace, so they
become graph nodes like the ones the interpreter emits itself.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx

from . import context


def _hint(v) -> int:
    """The size the oracle runs at (an example value for sizes read from data)."""
    return v if type(v) is int else v.example


class TensorMeta:
    """Shape (ints or SymInts), dtype, device, layout, requires_grad and strides at the hints.

    `sym_strides`: the strides as ints or SymInts, where an op computed them (the outputs of
    ops that return views of their inputs, whose layout the hints do not tell: `x[:, :6]` of a
    width-6 x is dense at the hints, not at width 7). None: laid out like the hint strides
    (see `layout_strides`), which holds for the fresh dense outputs of all other ops.
    """

    __slots__ = ("shape", "dtype", "device", "layout", "requires_grad", "strides",
                 "storage_offset", "is_leaf", "_example", "sym_strides", "real")

    def __init__(self, shape: tuple, dtype: torch.dtype, device: torch.device,
                 requires_grad: bool = False, strides: tuple | None = None,
                 storage_offset: int = 0, layout: torch.layout = torch.strided,
                 example: torch.Tensor | None = None, is_leaf: bool = True):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.layout = layout
        self.requires_grad = requires_grad
        self.strides = tuple(strides) if strides is not None else contiguous_strides(self.hint_shape)
        self.storage_offset = storage_offset
        self.is_leaf = is_leaf      # autograd leaf: in-place ops on a leaf requiring grad fail
        self._example = example
        self.sym_strides: tuple | None = None
        self.real = None    # a lifted parameter's, buffer's or constant's real tensor

    @classmethod
    def from_tensor(cls, t: torch.Tensor, shape: tuple | None = None) -> "TensorMeta":
        return cls(tuple(t.shape) if shape is None else shape, t.dtype, t.device, t.requires_grad,
                   tuple(t.stride()), t.storage_offset(), t.layout, is_leaf=t.is_leaf)

    @property
    def hint_shape(self) -> tuple[int, ...]:
        shape = self.shape
        if type(shape) is tuple:
            for s in shape:
                if type(s) is not int:
                    break
            else:
                return shape        # all ints (the common case): the shape is its own hint
        return tuple(_hint(s) for s in shape)

    @property
    def is_static(self) -> bool:
        # Loops, not all(generator): read on every op of a trace (dispatch, rules, proxies).
        for s in self.shape:
            if type(s) is not int:
                return False
        strides = self.sym_strides
        if strides is not None:
            for s in strides:
                if type(s) is not int:
                    return False
        return True

    @property
    def sized_by_data(self) -> bool:
        """Whether a size has no hint: it was read from data (`x[x > 0]`, `.item()`), so no
        run at example sizes may decide anything that depends on it."""
        return any(type(s) is not int and s.hint is None and s.env.hint_value(s.expr) is None
                   for s in self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def short_str(self) -> str:
        dt = str(self.dtype).replace("torch.", "")
        # str() of a symbolic size would specialize it; show its expression instead.
        return f"{dt}[{', '.join(str(getattr(s, 'expr', s)) for s in self.shape)}]"


def is_contiguous_layout(shape: Any, strides: Any) -> bool:
    """torch's is_contiguous() of sizes and strides (ints, or symbolic values whose questions
    our engine decides, in torch's order): no elements, or every dim of size other than 1
    strided by the product of the sizes inside it."""
    numel: Any = 1
    for size in shape:
        numel = numel * size
    if numel == 0:
        return True
    expected: Any = 1
    for size, stride in reversed(list(zip(shape, strides))):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected = expected * size
    return True


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= max(size, 1)
    return tuple(reversed(strides))


def layout_strides(meta: "TensorMeta", shape: list, convert: Any = None) -> list:
    """Strides of a symbolic shape laid out like the hint strides (contiguous or permuted,
    with expanded dims); once a stride follows no dense layout, it and the outer ones keep
    their hint values. A view's strides computed symbolically (`sym_strides`) are its strides,
    each symbolic one passed through `convert` (to the space of `shape`'s sizes) if given."""
    if meta.sym_strides is not None:
        return [s if type(s) is int or convert is None else convert(s) for s in meta.sym_strides]
    hints = meta.hint_shape
    order = sorted(range(len(shape)), key=lambda d: (meta.strides[d], hints[d]))
    strides: list[Any] = list(meta.strides)
    expected_hint, expected = 1, 1
    for d in order:
        st = meta.strides[d]
        if st == 0 or expected is None:
            continue
        if st != expected_hint:
            expected = None
            continue
        strides[d] = expected
        if hints[d] != 1:
            expected_hint *= hints[d]
            expected = expected * shape[d]
    return strides


def _route(op):
    def method(self, *args):
        return context.current().tensors.native_tensor_op(op, (self, *args))
    method.__name__ = f"__{getattr(op, '__name__', 'op')}__"
    return method


def _route_reflected(op):
    def method(self, other):
        return context.current().tensors.native_tensor_op(op, (other, self))
    return method


class TensorProxy:
    """A tensor flowing through the trace: an FX node plus metadata."""

    __slots__ = ("node", "meta", "_origin", "source", "py_type", "__weakref__")

    def __init__(self, node: torch.fx.Node, meta: TensorMeta, origin: str | tuple = "",
                 source: str | None = None, py_type: type = torch.Tensor):
        self.node = node
        self.meta = meta
        self._origin = origin         # a str, or (op, filename, lineno) formatted when read
        self.source = source          # state_dict / constant name for lifted tensors
        self.py_type = py_type        # what type() answers: torch.Tensor or nn.Parameter

    @property
    def origin(self) -> str:
        """Human description: "input x", "from aten.gt.Scalar at m.py:12". An op's output
        keeps its parts and is described only when read (every traced op makes one)."""
        origin = self._origin
        if type(origin) is str:
            return origin
        op, filename, lineno = origin
        where = "" if filename is None else f" at {filename.rsplit('/', 1)[-1]}:{lineno}"
        return f"from {op}{where}"

    # -- metadata (also reachable through the interpreter's attribute handler) --
    @property
    def shape(self) -> tuple:
        return self.meta.shape

    @property
    def dtype(self) -> torch.dtype:
        return self.meta.dtype

    @property
    def device(self) -> torch.device:
        return self.meta.device

    @property
    def ndim(self) -> int:
        return len(self.meta.shape)

    def dim(self) -> int:
        return len(self.meta.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.meta.shape
        return self.meta.shape[dim]

    def numel(self):
        n = 1
        for s in self.meta.shape:
            n = n * s
        return n

    def describe(self) -> str:
        text = f"Tensor({self.meta.short_str()}"
        if self.origin:
            text += f", {self.origin}"
        return text + ")"

    def __repr__(self) -> str:
        return self.describe()

    # Identity hashing, as torch.Tensor does.
    __hash__ = object.__hash__

    # -- Python operators reached from native code: routed into the active trace --
    __add__ = _route(operator.add)
    __radd__ = _route_reflected(operator.add)
    __sub__ = _route(operator.sub)
    __rsub__ = _route_reflected(operator.sub)
    __mul__ = _route(operator.mul)
    __rmul__ = _route_reflected(operator.mul)
    __truediv__ = _route(operator.truediv)
    __rtruediv__ = _route_reflected(operator.truediv)
    __floordiv__ = _route(operator.floordiv)
    __rfloordiv__ = _route_reflected(operator.floordiv)
    __mod__ = _route(operator.mod)
    __rmod__ = _route_reflected(operator.mod)
    __pow__ = _route(operator.pow)
    __rpow__ = _route_reflected(operator.pow)
    __matmul__ = _route(operator.matmul)
    __rmatmul__ = _route_reflected(operator.matmul)
    __and__ = _route(operator.and_)
    __rand__ = _route_reflected(operator.and_)
    __or__ = _route(operator.or_)
    __ror__ = _route_reflected(operator.or_)
    __xor__ = _route(operator.xor)
    __rxor__ = _route_reflected(operator.xor)
    __lshift__ = _route(operator.lshift)
    __rshift__ = _route(operator.rshift)
    __neg__ = _route(operator.neg)
    __pos__ = _route(operator.pos)
    __abs__ = _route(operator.abs)
    __invert__ = _route(operator.invert)
    __lt__ = _route(operator.lt)
    __le__ = _route(operator.le)
    __gt__ = _route(operator.gt)
    __ge__ = _route(operator.ge)
    __eq__ = _route(operator.eq)
    __ne__ = _route(operator.ne)
    __getitem__ = _route(operator.getitem)

    def __bool__(self) -> bool:
        return context.current().tensors.to_python(self, bool)

    def __int__(self) -> int:
        return context.current().tensors.to_python(self, int)

    def __float__(self) -> float:
        return context.current().tensors.to_python(self, float)

    def __index__(self) -> int:
        return context.current().tensors.to_python(self, operator.index)

    def __len__(self) -> int:
        return operator.index(context.current().tensors.length(self))

    def __iter__(self):
        return context.current().tensors.iterate(self)


class SymSize(tuple):
    """`tensor.shape` when a dimension is symbolic: a tuple of ints and SymInts that the
    program sees as the torch.Size eager gives (slicing and `+` keep it one, numel())."""

    __slots__ = ()
    _strict_tracer_native = True

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return SymSize(item) if type(index) is slice else item

    def __add__(self, other: Any) -> Any:
        if not isinstance(other, tuple):
            return NotImplemented
        return SymSize(tuple.__add__(self, other))

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, tuple):
            return NotImplemented
        return SymSize(tuple.__add__(other, self))

    def __mul__(self, count: Any) -> Any:
        return SymSize(tuple.__mul__(self, count))

    __rmul__ = __mul__

    def numel(self) -> Any:
        n = 1
        for s in self:
            n = n * s
        return n


def plain_sizes(values: tuple) -> tuple:
    """`values` with each SymSize as the plain tuple torch calls accept."""
    return tuple(tuple(v) if type(v) is SymSize else v for v in values)
