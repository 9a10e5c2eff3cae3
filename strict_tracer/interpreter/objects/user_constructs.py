"""Refusals of constructs that would otherwise fail deep inside torch, told in the user's terms.

Each construct here cannot be captured soundly, and the first native it reaches is an internal
of torch (`set_eval_frame`, `TensorBase._make_subclass`, a `typing` alias): refusing there would
name that internal and point into torch's source. So the call the user wrote is recognized and
refused at its own line, saying what it does, why an exported program cannot hold it, and what
to write instead.
"""
from __future__ import annotations

import types
from typing import Any

import torch

from ...errors import Category
from ..registry import special

# The wrapper torch._disable_dynamo puts around torch's own never-traced functions.
_DISABLE_DYNAMO_INNER = torch._disable_dynamo(lambda: None).__code__


def compiler_disabled(fn: types.FunctionType) -> bool:
    """Is `fn` a function compilers were told not to trace (@torch.compiler.disable, or
    torch's internal _disable_dynamo)?"""
    return fn.__code__ is _DISABLE_DYNAMO_INNER or "_torchdynamo_disable" in fn.__dict__


def refuse_compiler_disabled(interp, fn: types.FunctionType, args: tuple, kwargs: dict):
    """The refusal for calling a compiler-disabled function."""
    wrapped = fn.__dict__.get("_torchdynamo_orig_callable") or fn.__dict__.get("__wrapped__", fn)
    name = getattr(wrapped, "__qualname__", getattr(fn, "__qualname__", "function"))
    module = getattr(wrapped, "__module__", "") or ""
    if module.split(".")[0] == "torch":
        return interp.refuse(
            Category.UNSUPPORTED_NATIVE,
            f"{_public_name(module, name)}() is marked by torch as never traced by compilers: it "
            "must run as Python at every call, and an exported program runs no Python",
            hint=f"call {_public_name(module, name)}() outside forward(), before running the "
                 "model or the exported program", operands=(*args, *kwargs.values()))
    return interp.refuse(
        Category.UNSUPPORTED_PYTHON,
        f"{name}() is decorated with @torch.compiler.disable, which tells compilers not to trace "
        "it: its body must run as Python at every call, and an exported program runs no Python",
        hint=f"remove @torch.compiler.disable from {name} so that its body is traced, or call it "
             "outside forward() and pass its result in", operands=(*args, *kwargs.values()))


def _public_name(module: str, name: str) -> str:
    public = "torch" if module in ("torch.random", "torch._C") else module
    return f"{public}.{name}"


# ---------------------------------------------------------------- seeding the global generators
def _seeding(interp, args, kwargs):
    raise interp.refuse(
        Category.SIDE_EFFECT,
        "seeding torch's global random generator inside forward() changes state outside the "
        "program: the exported graph would not reseed it, so its random ops would draw "
        "differently from eager",
        hint="seed once outside forward() (torch.manual_seed before calling the model or the "
             "exported program), or pass a torch.Generator to the random ops",
        operands=(*args, *kwargs.values()))


_SEEDERS = [torch.manual_seed, torch.seed, torch.random.manual_seed, torch.random.seed,
            torch.set_rng_state, torch.random.set_rng_state]
if hasattr(torch, "cuda"):
    _SEEDERS += [torch.cuda.manual_seed, torch.cuda.manual_seed_all, torch.cuda.seed,
                 torch.cuda.seed_all]
special(*_SEEDERS)(_seeding)


# ---------------------------------------------------------------- autograd inside forward
@special(torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward)
def _autograd(interp, args, kwargs):
    raise interp.refuse(
        Category.UNSUPPORTED_TENSOR_OP,
        "computing gradients inside forward() (torch.autograd.grad / .backward()) is not "
        "captured: an exported program records the forward computation only",
        hint="compute gradients outside forward() on the exported program's outputs, or "
             "express the derivative with tensor ops (or torch.func transforms) explicitly",
        operands=(*args, *kwargs.values()))


def refuse_new_parameter(interp, cls: type, args: tuple, kwargs: dict):
    """The refusal for `nn.Parameter(...)` (or a subclass) constructed inside forward()."""
    name = "nn.Parameter" if cls is torch.nn.Parameter else cls.__qualname__
    return interp.refuse(
        Category.UNSUPPORTED_TENSOR_OP,
        f"{name}(...) inside forward() makes a new parameter at every call; an exported "
        "program's parameters are fixed when it is exported",
        hint=f"create the parameter once in __init__ (self.w = {name}(...)) and use "
             "it in forward(), or use the tensor itself if it need not be a parameter",
        operands=(*args, *kwargs.values()))


def is_parameter_class(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, torch.nn.Parameter)
