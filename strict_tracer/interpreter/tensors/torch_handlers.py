"""Handlers for torch natives that are not tensor ops: grad mode, tracing queries, checks."""
from __future__ import annotations

import torch
import torch._dynamo.external_utils
import torch.fx._symbolic_trace

from ...errors import Category
from ...proxy import TensorProxy
from ..calls.natives import TORCH_QUERIES
from ..registry import special


@special(torch._C._set_grad_enabled)
def _set_grad_enabled(interp, args, kwargs):
    (mode,) = args
    state = interp.state
    if bool(mode) != state.grad_enabled:
        # A new grad-mode region: nodes carry (grad_enabled, region) in meta["st_grad"], and
        # functionalization wraps regions that differ from export's mode in
        # wrap_with_set_grad_enabled submodules, as torch.export does.
        state.grad_region += 1
    state.grad_enabled = bool(mode)


@special(torch.is_grad_enabled, torch._C.is_grad_enabled)
def _is_grad_enabled(interp, args, kwargs):
    return interp.state.grad_enabled


@special(torch._C._get_tracing_state)
def _get_tracing_state(interp, args, kwargs):
    return None


@special(torch._C._is_tracing)
def _is_tracing(interp, args, kwargs):
    return False


@special(torch._C._has_torch_function, torch._C._has_torch_function_unary,
         torch._C._has_torch_function_variadic)
def _has_torch_function(interp, args, kwargs):
    # Proxies stand for plain tensors; tensor subclasses are refused when lifted.
    return False


# Tracer-state queries library code uses to pick export-friendly paths: answered as under
# torch.export(strict=True) (tests/test_tracing_queries.py compares every one with it).
@special(torch.compiler.is_compiling, torch.compiler.is_exporting, torch._utils.is_compiling,
         torch.compiler.is_dynamo_compiling, torch._dynamo.external_utils.is_compiling)
def _is_compiling(interp, args, kwargs):
    return True


@special(torch.fx._symbolic_trace.is_fx_tracing)
def _is_fx_tracing(interp, args, kwargs):
    # False under torch.export (its deprecation warning is rate-limited by the clock).
    return False


@special(torch._C._is_torch_function_mode_enabled)
def _torch_function_mode(interp, args, kwargs):
    return False


def _make_query(fn):
    def query(interp, args, kwargs):
        if any(type(a) is TensorProxy for a in args):
            raise interp.refuse(Category.UNSUPPORTED_NATIVE, f"{fn.__name__} received a tensor")
        return fn(*args, **kwargs)
    return query


for _fn in TORCH_QUERIES:
    special(_fn)(_make_query(_fn))


@special(torch._C._InferenceMode)
def _inference_mode(interp, args, kwargs):
    """`with torch.inference_mode(mode)`: for the values of the traced program, inference mode
    is no_grad (torch.export records the block's ops with grad off, too), so the block runs
    as a `torch.no_grad()` region; `inference_mode(False)` is a no-op outside inference mode."""
    import contextlib
    mode = args[0] if args else kwargs.get("mode", True)
    if not mode and not torch.is_inference_mode_enabled():
        return contextlib.nullcontext()
    return torch.no_grad() if mode else torch.enable_grad()


def _refuse_subclass_construction():
    """A tensor subclass made in forward(): torch.export flattens wrapper subclasses into their
    inner tensors (and subclass buffers into parametrizations); strict_tracer's values are plain
    tensors, so the construction is refused before the subclass could be mistaken for one."""
    def refuse(interp, args, kwargs):
        cls = args[0] if args and isinstance(args[0], type) else None
        what = f"the tensor subclass {cls.__qualname__}" if cls is not None else "a tensor subclass"
        raise interp.refuse(
            Category.UNSUPPORTED_TENSOR_OP,
            f"constructing {what} inside forward() is not supported: "
            "strict_tracer traces plain tensors and does not run a subclass's "
            "__torch_dispatch__ or flatten it into its inner tensors",
            hint="compute with the inner tensors directly, or export with strict=False",
            operands=tuple(a for a in args[1:] if type(a) is TensorProxy))
    return refuse


special(torch.Tensor._make_wrapper_subclass, torch.Tensor._make_subclass)(_refuse_subclass_construction())
