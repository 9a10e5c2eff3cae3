"""Library constructs torch.export gives special meaning, traced the way it does:

- `torch.autograd.Function.apply`: the Function's forward is traced inline (under no_grad, as
  autograd runs it), with a real FunctionCtx; `setup_context` runs after it when defined. The
  backward is not part of the exported forward graph (torch.export drops it too).
- `@torch._dynamo.assume_constant_result`: the user's promise that the function's result is a
  constant. As torch.export does, the function runs for real on the example values of its
  arguments (tensors computed from the inputs are evaluated by running the graph so far) and
  its result is baked into the program. This is the one place the tracer reads example data,
  because the program asks for it.
- `torch.utils.checkpoint.checkpoint(fn, *args, **kwargs)`: activation checkpointing only
  changes what autograd saves for backward, so the forward is `fn(*args, **kwargs)`, traced
  inline (torch.export 2.13 fails on it). A custom `context_fn` is refused.
- functorch's autograd transforms (`torch.func.grad`, `jacrev`, ...) are refused with a fix:
  they need autograd interpreters the tracer does not model (`torch.vmap` is hops/vmap.py).
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.fx
import torch.utils._pytree as pytree

from ...errors import Category
from ...proxy import TensorProxy
from ..registry import SPECIAL

_SETUP_CONTEXT_DEFAULT = torch.autograd.function._SingleLevelFunction.setup_context


def _autograd_function_apply(interp, args: tuple, kwargs: dict) -> Any:
    cls, fargs = args[0], args[1:]
    forward = interp.load_attr(cls, "forward")
    setup_context = interp.load_attr(cls, "setup_context")
    ctx = torch.autograd.function.FunctionCtx()
    interp.state.sandbox.mark_fresh(ctx)
    ctx.needs_input_grad = tuple(type(a) is TensorProxy and a.meta.requires_grad for a in fargs)
    saved = interp.state.grad_enabled
    interp.state.grad_enabled = False
    try:
        if setup_context is not _SETUP_CONTEXT_DEFAULT:
            bound = inspect.signature(forward).bind(*fargs, **kwargs)
            bound.apply_defaults()
            output = interp.call(forward, bound.args, bound.kwargs)
            interp.call(setup_context, (ctx, bound.args, output), {})
        else:
            output = interp.call(forward, (ctx, *fargs), kwargs)
    finally:
        interp.state.grad_enabled = saved
    return output


SPECIAL[torch.autograd.Function.apply.__func__] = _autograd_function_apply


# ---------------------------------------------------------------- assume_constant_result
def is_assumed_constant(fn: Any) -> bool:
    namespace = getattr(fn, "__dict__", None)
    return bool(namespace) and namespace.get("_dynamo_marked_constant", False) is True


def call_assumed_constant(interp, fn: Any, args: tuple, kwargs: dict) -> Any:
    """Run `fn` natively on the example values of its arguments; the result is a constant."""
    real_args, real_kwargs = pytree.tree_map(lambda v: _real_value(interp, v), (args, kwargs))
    result = fn(*real_args, **real_kwargs)
    return pytree.tree_map(
        lambda v: interp.tensors.lift(v) if isinstance(v, torch.Tensor) else v, result)


def _real_value(interp, value: Any) -> Any:
    if type(value) is not TensorProxy:
        return value
    return _evaluate_graph_until(interp, value.node)


def _evaluate_graph_until(interp, target: torch.fx.Node) -> torch.Tensor:
    """Run the graph built so far on the example inputs (copies: in-place ops must not touch
    the user's tensors or the module's state) up to `target`."""
    state = interp.state
    lifted = {entry.node: entry.tensor for entry in state.graph.lifted}
    env: dict[torch.fx.Node, Any] = {}
    with torch.no_grad():
        for node in state.graph.graph.nodes:
            if node.op == "placeholder":
                real = state.example_inputs.get(node, lifted.get(node))
                if real is None:
                    real = node.meta.get("st_value")
                env[node] = real.detach().clone() if isinstance(real, torch.Tensor) else real
            elif node.op == "call_function":
                node_args, node_kwargs = torch.fx.node.map_arg((node.args, node.kwargs), env.__getitem__)
                env[node] = node.target(*node_args, **node_kwargs)
            if node is target:
                return env[node]
    raise AssertionError("the proxy's node is not in the graph")


# ---------------------------------------------------------------- checkpoint, functorch
_CHECKPOINT_OPTIONS = ("use_reentrant", "determinism_check", "debug", "early_stop",
                       "preserve_rng_state")


def _checkpoint(interp, args: tuple, kwargs: dict) -> Any:
    import torch.utils.checkpoint as ckpt
    if not args:
        raise TypeError("checkpoint() missing required argument: 'function'")
    fn, fargs = args[0], args[1:]
    kwargs = dict(kwargs)
    if kwargs.pop("context_fn", ckpt.noop_context_fn) is not ckpt.noop_context_fn:
        raise interp.refuse(Category.UNSUPPORTED_PYTHON,
                            "torch.utils.checkpoint.checkpoint with a custom context_fn",
                            hint="drop context_fn (checkpointing does not change the forward), "
                                 "or call the function directly")
    reentrant = kwargs.get("use_reentrant")
    for name in _CHECKPOINT_OPTIONS:
        kwargs.pop(name, None)
    if reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    return interp.call(fn, fargs, kwargs)


SPECIAL[torch.utils.checkpoint.checkpoint] = _checkpoint


def _functorch_transform(name: str):
    def refuse(interp, args: tuple, kwargs: dict) -> Any:
        raise interp.refuse(
            Category.UNSUPPORTED_PYTHON,
            f"{name} inside forward() is not supported: functorch's autograd transforms need "
            "an autograd interpreter that strict export does not trace",
            hint="apply the transform outside the exported module (to ep.module()), or write "
                 "the derivative with torch ops")
    return refuse


for _name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"):
    SPECIAL[getattr(torch.func, _name)] = _functorch_transform(f"torch.func.{_name}")


def _record_function_enter(interp, args: tuple, kwargs: dict) -> Any:
    """`with torch.profiler.record_function(name):` marks a profiler range at run time; an
    exported program has no profiler ranges (torch.export drops them too), so entering and
    leaving the block only run its body."""
    return args[0]


def _record_function_exit(interp, args: tuple, kwargs: dict) -> Any:
    return None


SPECIAL[torch.autograd.profiler.record_function.__enter__] = _record_function_enter
SPECIAL[torch.autograd.profiler.record_function.__exit__] = _record_function_exit
