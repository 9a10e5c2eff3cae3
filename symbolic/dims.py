"""`dynamic_shapes` specifications: parse torch's spec objects into one DimSpec per dimension.

Accepted (as torch.export accepts them): a dict keyed by forward()'s argument names, a
tuple/list in argument order, nested like the inputs (lists, tuples, dicts, pytree nodes),
`ShapesCollection` and `AdditionalInputs`; per tensor a tuple/list of dimensions, a dict
{index: dimension} or None; per dimension None, an int, `Dim.AUTO/DYNAMIC/STATIC` (optionally
with min/max), a named `Dim`, or a derived `A*dim + B`. Anything else raises UserInputError
saying where and what is wrong.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Optional

import sympy
import torch
import torch.utils._pytree as pytree
from torch.export.dynamic_shapes import (AdditionalInputs, Dim, ShapesCollection, _DerivedDim,
                                         _DimHint, _DimHintType, _IntWrapper, _StaticDim)

from strict_tracer.errors import UserInputError
from strict_tracer.warn import warn_user

STATIC, AUTO, DYNAMIC, NAMED, DERIVED = "static", "auto", "dynamic", "named", "derived"


@dataclass(frozen=True)
class InputDim:
    """One dimension of one flattened input: where a size symbol comes from."""

    leaf: int           # index among the flattened user inputs
    keys: tuple         # pytree key path into forward()'s bound arguments
    dim: Optional[int]  # None: the input is a Python int, itself the size

    @property
    def path(self) -> str:
        """How the user reaches the input: x, xs[0], d['k']."""
        return str(self.keys[0].key) + pytree.keystr(self.keys[1:])

    @property
    def source(self) -> str:
        """torch's name for this size: L['x'].size()[0] (L['n'] for an int input)."""
        if self.dim is None:
            return f"L{pytree.keystr(self.keys)}"
        return f"L{pytree.keystr(self.keys)}.size()[{self.dim}]"

    @property
    def shape_name(self) -> str:
        if self.dim is None:
            return f"inputs{pytree.keystr(self.keys)}"
        return f"inputs{pytree.keystr(self.keys)}.shape[{self.dim}]"


@dataclass(frozen=True)
class DimSpec:
    """What the user asked for one dimension."""

    kind: str                       # STATIC / AUTO / DYNAMIC / NAMED / DERIVED
    min: Optional[int] = None
    max: Optional[int] = None
    value: Optional[int] = None     # an int spec: the size it must have
    dim: Any = None                 # the torch Dim object (NAMED / DERIVED)

    @property
    def name(self) -> Optional[str]:
        return None if self.dim is None else self.dim.__name__

    def describe(self) -> str:
        if self.kind in (AUTO, DYNAMIC):
            return f"Dim.{self.kind.upper()}(min={self.min}, max={self.max})"
        return repr(self.dim) if self.dim is not None else str(self.value)


STATIC_SPEC = DimSpec(STATIC)


# ---------------------------------------------------------------------------- entry point
def bound_paths(mod: torch.nn.Module, leaf_paths: list[tuple]) -> list[tuple]:
    """Each leaf's path into (args, kwargs) as a path into forward()'s bound arguments."""
    sig = _signature(mod)
    return [_combined_path(sig, path) for path in leaf_paths]


def unwrap_int_inputs(mod: torch.nn.Module, args: tuple, kwargs: dict, spec: Any) -> tuple:
    """(args, kwargs, spec) with torch's `_IntWrapper` inputs as their ints. A ShapesCollection
    marks an int dynamic by the wrapper's identity, so it is resolved before unwrapping."""
    if not any(isinstance(leaf, _IntWrapper) for leaf in pytree.tree_leaves((args, kwargs))):
        return args, kwargs, spec
    if isinstance(spec, (ShapesCollection, AdditionalInputs)):
        spec = _resolve_collection(spec, mod, args, kwargs)
    args, kwargs = pytree.tree_map_only(_IntWrapper, lambda wrapper: wrapper.val, (args, kwargs))
    return args, kwargs, spec


def _resolve_collection(spec: Any, mod: torch.nn.Module, args: tuple, kwargs: dict) -> Any:
    try:
        return spec.dynamic_shapes(mod, args, kwargs)
    except (ValueError, AssertionError, TypeError) as exc:
        raise UserInputError(f"dynamic_shapes: {exc}") from None


def parse_dynamic_shapes(mod: torch.nn.Module, args: tuple, kwargs: dict, spec: Any,
                         leaf_paths: list[tuple]) -> list[Optional[list[DimSpec]]]:
    """One entry per flattened input leaf (pytree order of (args, kwargs)): a DimSpec per
    dimension for tensors, one DimSpec for an int made dynamic (Dim.AUTO/DYNAMIC), None for
    leaves without a spec (static)."""
    if spec is None:
        return [None] * len(leaf_paths)
    if isinstance(spec, (ShapesCollection, AdditionalInputs)):
        spec = _resolve_collection(spec, mod, args, kwargs)
    combined = _combine_args(mod, args, kwargs)
    if isinstance(spec, dict):
        got, expected = list(spec), list(combined)
        if sorted(map(str, got)) != sorted(map(str, expected)):
            single = expected[0] if len(expected) == 1 else None
            if single is not None and single not in got and isinstance(combined[single], dict):
                hint = ("Since here `inputs` is a list/tuple enclosing a single dict, maybe you "
                        "just forgot to enclose `dynamic_shapes` in a list/tuple?")
            else:
                hint = ("Alternatively, you could also ignore arg names entirely and specify "
                        "`dynamic_shapes` as a list/tuple matching `inputs`.")
            raise UserInputError(
                f"When `dynamic_shapes` is specified as a dict, its top-level keys must be the arg "
                f"names {expected} of `inputs`, but here they are {got}. {hint}")
        per_arg = {name: spec[name] for name in combined}
    elif isinstance(spec, (tuple, list)):
        if len(spec) != len(combined):
            raise UserInputError(
                f"Detected mismatch between the structure of `inputs` and `dynamic_shapes`: "
                f"`inputs` has {len(combined)} elements, but `dynamic_shapes` has {len(spec)} "
                "elements")
        per_arg = dict(zip(combined, spec))
    else:
        raise UserInputError(f"dynamic_shapes must be a dict, tuple, list, ShapesCollection or "
                             f"AdditionalInputs, got {type(spec).__name__}")
    by_path: dict[tuple, Any] = {}
    for i, (name, value) in enumerate(combined.items()):
        # Messages name places as the user wrote the spec: dynamic_shapes['x'] or [0].
        shown = pytree.MappingKey(name) if isinstance(spec, dict) else pytree.SequenceKey(i)
        _walk((pytree.MappingKey(name),), value, per_arg[name], by_path, (shown,))
    specs = [by_path.get(key) for key in bound_paths(mod, leaf_paths)]
    _check_same_bounds(specs)
    return specs


def _signature(mod: torch.nn.Module) -> inspect.Signature:
    return inspect.signature(mod.forward)


def _combine_args(mod: torch.nn.Module, args: tuple, kwargs: dict) -> dict[str, Any]:
    return dict(_signature(mod).bind(*args, **kwargs).arguments)


def _combined_path(sig: inspect.Signature, path: tuple) -> tuple:
    """Our leaf path into (args, kwargs) -> the same leaf's path into the bound arguments."""
    params = list(sig.parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    varkw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
    top, first, rest = path[0], path[1], path[2:]
    if top.idx == 0:
        i = first.idx
        if i < len(positional):
            return (pytree.MappingKey(positional[i]), *rest)
        return (pytree.MappingKey(varargs), pytree.SequenceKey(i - len(positional)), *rest)
    key = first.key
    if key in sig.parameters and sig.parameters[key].kind is not inspect.Parameter.VAR_KEYWORD:
        return (pytree.MappingKey(key), *rest)
    return (pytree.MappingKey(varkw), pytree.MappingKey(key), *rest)


def _render_key(k) -> str:
    if isinstance(k, pytree.SequenceKey):
        return f"[{k.idx}]"
    if isinstance(k, pytree.MappingKey):
        return f"[{k.key!r}]"
    if isinstance(k, pytree.GetAttrKey):
        return f".{k.name}"
    return f"[{k}]"


def _walk(path: tuple, value: Any, spec: Any, out: dict, shown: tuple) -> None:
    """Match `spec` against the input structure `value`, recording tensor specs by path;
    `shown` is the same place as messages name it (the spec's own top-level key)."""
    where = f"`dynamic_shapes{_keys_text(shown)}`"
    if isinstance(value, torch.Tensor):
        out[path] = _tensor_spec(value, spec, where)
        return
    if type(value) is int and spec is not None:
        out[path] = _int_spec(spec, where, shown)
        return
    node = pytree.SUPPORTED_NODES.get(type(value)) if not _is_leaf_type(value) else None
    if node is None:
        if spec is not None:
            raise UserInputError(
                f"Cannot associate shape {spec!r} specified at {where} to non-tensor type "
                f"{type(value).__name__} at `inputs{_keys_text(shown)}` (expected None); only "
                "tensors and Python ints can be dynamic")
        return
    children, context = node.flatten_fn(value)
    keys = _child_keys(value, children, context)
    if spec is not None:
        spec_children = _spec_children(value, spec, len(children), where, shown)
    else:
        spec_children = [None] * len(children)
    for key, child, child_spec in zip(keys, children, spec_children):
        _walk(path + (key,), child, child_spec, out, shown + (key,))


def _keys_text(keys: tuple) -> str:
    return "".join(_render_key(k) for k in keys)


def _spec_children(value: Any, spec: Any, count: int, where: str, shown: tuple) -> list:
    """The specs of a container input's children; a spec of another structure is refused
    with the places of both, as torch.export words it."""
    mismatch = ("Detected mismatch between the structure of `inputs` and `dynamic_shapes`: "
                f"`inputs{_keys_text(shown)}`")
    if type(value) in (list, tuple, dict) or hasattr(value, "_fields"):
        if isinstance(value, dict):
            same_kind = isinstance(spec, dict)
        else:
            same_kind = isinstance(spec, (list, tuple)) and (
                type(spec) is type(value) or hasattr(value, "_fields"))
        if not same_kind:
            kind = f"a {type(spec)}" if isinstance(spec, (list, tuple, dict)) else "not"
            raise UserInputError(f"{mismatch} is a {type(value)}, but {where} is {kind}")
        if isinstance(value, dict):
            if set(spec) != set(value):
                raise UserInputError(f"{mismatch} has keys {list(value)}, but {where} has keys "
                                     f"{list(spec)}")
            return [spec[k] for k in value]
    elif not isinstance(spec, (list, tuple)):
        # a user class registered with pytree: the spec follows its flattened children
        raise UserInputError(f"{where} must be a list/tuple matching the flattened children "
                             f"of {type(value).__name__}")
    if len(spec) != count:
        raise UserInputError(f"{mismatch} has {count} elements, but {where} has {len(spec)} "
                             "elements")
    return list(spec)


def _is_leaf_type(value: Any) -> bool:
    return isinstance(value, (int, float, bool, str, type(None), torch.dtype, torch.device))


def _child_keys(value: Any, children: list, context: Any) -> list:
    if isinstance(value, dict):
        return [pytree.MappingKey(k) for k in value]
    if hasattr(value, "_fields"):
        return [pytree.GetAttrKey(f) for f in value._fields]
    flatten_with_keys = pytree.SUPPORTED_NODES[type(value)].flatten_with_keys_fn
    if flatten_with_keys is not None:
        return [k for k, _ in flatten_with_keys(value)[0]]
    return [pytree.SequenceKey(i) for i in range(len(children))]


# ---------------------------------------------------------------------------- per int
def _int_spec(spec: Any, where: str, shown: tuple) -> Optional[DimSpec]:
    """A Python int input is a size of its own: Dim.AUTO/DYNAMIC (with min/max) make it a
    symbolic input, Dim.STATIC or an int keep it a constant; named Dims are refused as torch
    refuses them."""
    if isinstance(spec, _DimHint):
        if spec.type == _DimHintType.STATIC:
            return None
        return DimSpec(AUTO if spec.type == _DimHintType.AUTO else DYNAMIC, spec.min, spec.max)
    if type(spec) is int or isinstance(spec, _StaticDim):
        return None
    if isinstance(spec, (Dim, _DerivedDim)):
        raise UserInputError("Unable to specify input integers as dynamic through named Dims. "
                             "Please use Dim.AUTO/DYNAMIC instead.")
    raise UserInputError(
        f"Unexpected dynamic shape {spec!r} specified at {where} for the int at "
        f"`inputs{_keys_text(shown)}` (expected None, Dim.AUTO, "
        "Dim.DYNAMIC or Dim.STATIC)")


# ---------------------------------------------------------------------------- per tensor
def _tensor_spec(t: torch.Tensor, spec: Any, where: str) -> list[DimSpec]:
    ndim = t.dim()
    if spec is None:
        return [STATIC_SPEC] * ndim
    if isinstance(spec, dict):
        dims = [STATIC_SPEC] * ndim
        for index, d in spec.items():
            if type(index) is not int or not -ndim <= index < ndim:
                raise UserInputError(
                    f"Unexpected dimension mapped to index {index!r} in input tensor shape "
                    f"{spec!r} specified at {where} (the tensor has {ndim} dimensions)")
            dims[index % ndim] = _dim_spec(d, where, index, spec)
        return dims
    if isinstance(spec, (tuple, list)):
        if len(spec) != ndim:
            raise UserInputError(
                f"Expected dynamic shape spec {spec!r} specified at {where} to have the same "
                f"length as the actual tensor shape {t.shape} (expected {ndim}, but got "
                f"{len(spec)} instead)")
        return [_dim_spec(d, where, i, spec) for i, d in enumerate(spec)]
    raise UserInputError(
        f"Unexpected input tensor shape {spec!r} specified at {where} (expected either a "
        "list/tuple of dimensions, or a dict mapping indices to dimensions, where each dimension "
        "is an int, a Dim, Dim.AUTO, Dim.STATIC, or Dim.DYNAMIC)")


def _dim_spec(d: Any, where: str, index: int, shape: Any) -> DimSpec:
    if d is None:
        warn_user("Using None as a dynamic shape dimension is deprecated. Please use "
                  "Dim.STATIC instead")
        return STATIC_SPEC
    if type(d) is int:
        return DimSpec(STATIC, value=d)
    if isinstance(d, _DimHint):
        kind = {_DimHintType.AUTO: AUTO, _DimHintType.DYNAMIC: DYNAMIC,
                _DimHintType.STATIC: STATIC}[d.type]
        return DimSpec(kind, d.min, d.max)
    if isinstance(d, _StaticDim):
        return DimSpec(STATIC, value=d.value)
    if isinstance(d, _DerivedDim):
        return DimSpec(DERIVED, _derived_min(d), d.max, dim=d)
    if isinstance(d, Dim):
        return DimSpec(NAMED, d.min, d.max, dim=d)
    raise UserInputError(
        f"Unexpected dimension #{index} in input tensor shape {shape!r} specified at {where} (expected "
        f"None, an int, a Dim, Dim.AUTO, Dim.STATIC, or Dim.DYNAMIC, but got {d!r} instead)")


def _derived_min(d: _DerivedDim) -> int:
    """A derived dim's smallest size. torch.export refuses `3*_d - 1` of `Dim('_d', max=12)`
    (at its declared min 0 the size would be -1), though it suggests that very fix; a root
    is a size, never below 2 while tracing, so the derived dim's sizes start at fn(2)."""
    try:
        return d.min
    except AssertionError as exc:
        lowest = int(d.fn(sympy.Integer(max(2, d.root.min))))
        if lowest < 0:
            raise UserInputError(str(exc)) from None
        return lowest


def _check_same_bounds(specs: list) -> None:
    seen: dict[str, Any] = {}
    for dims in specs:
        for d in dims if isinstance(dims, list) else ():
            named = d.dim.root if d.kind == DERIVED else (d.dim if d.kind == NAMED else None)
            if named is None:
                continue
            other = seen.setdefault(named.__name__, named)
            if (other.min, other.max) != (named.min, named.max):
                raise UserInputError(f"Found different definitions {other!r} and {named!r} for "
                                     f"the same symbolic dimension {named.__name__!r}")
