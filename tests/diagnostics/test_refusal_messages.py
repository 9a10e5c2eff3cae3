"""Every refusal speaks the user's language.

A refusal names what the user wrote, why it cannot be captured soundly and what to write
instead, points at the user's line, and never names the tracer's internals (its classes and
modules, torch's fake tensors, torch._C, pybind). The walk covers every refusal category
(the cases of test_diagnostics and test_refusal_locations) and the constructs that used to be
refused in internal terms.
"""
from __future__ import annotations

import functools
import ast
import pathlib
import random
import re

import pytest
import torch
from torch import nn

import strict_tracer
from strict_tracer import Category, GraphBreakError

import test_diagnostics
import test_refusal_locations
from support.helpers import marked_line

THIS_FILE = __file__
INTERNAL_NAMES = re.compile(
    r"FakeTensor|TensorProxy|SymNode|SymSize|InterpretedGenerator|FrameView|TensorMethod|TracebackView|"
    r"strict_tracer\.|torch\._C\.|torch\._dynamo|torch\._subclasses|pybind|"
    r"set_eval_frame|_make_subclass|GenericAlias")


_line = functools.partial(marked_line, THIS_FILE, tag='# refused: ')


@torch.compiler.disable
def _disabled_helper(x):
    return x * 2


class CompilerDisabled(nn.Module):
    def forward(self, x):
        return _disabled_helper(x)  # refused: compiler_disable


class ManualSeed(nn.Module):
    def forward(self, x):
        torch.manual_seed(0)  # refused: manual_seed
        return x + torch.rand(3)


class NewParameter(nn.Module):
    def forward(self, x):
        w = nn.Parameter(x * 2)  # refused: parameter
        return w + 1


class AutogradGrad(nn.Module):
    def forward(self, x):
        y = (x * x).sum()
        return torch.autograd.grad(y, x)  # refused: autograd_grad


class Backward(nn.Module):
    def forward(self, x):
        (x * x).sum().backward()  # refused: backward
        return x


class RandomRandom(nn.Module):
    def forward(self, x):
        return x * random.random()  # refused: random


class Data(nn.Module):
    def forward(self, x):
        return x.data + 1  # refused: data


class IntOfTensor(nn.Module):
    def forward(self, x):
        return [x, x + 1][x.sum().long()]  # refused: int_tensor


class LibraryNative(nn.Module):
    def forward(self, x):
        torch.get_rng_state()  # refused: library_native
        return x


class BufferDict(nn.Module):
    def forward(self, x):
        self._buffers["cache"] = x * 2
        return x + self.cache  # refused: buffers_dict


# construct -> (module, category, words the message must contain, words the fix must contain)
CONSTRUCTS = {
    "compiler_disable": (CompilerDisabled, Category.UNSUPPORTED_PYTHON,
                         ["_disabled_helper()", "@torch.compiler.disable"], ["remove"]),
    "manual_seed": (ManualSeed, Category.SIDE_EFFECT, ["seeding", "random generator"],
                    ["outside forward()", "torch.Generator"]),
    "parameter": (NewParameter, Category.UNSUPPORTED_TENSOR_OP, ["nn.Parameter(...)"],
                  ["__init__"]),
    "autograd_grad": (AutogradGrad, Category.UNSUPPORTED_TENSOR_OP,
                      ["torch.autograd.grad", "gradients"], ["outside forward()"]),
    "backward": (Backward, Category.UNSUPPORTED_TENSOR_OP, [".backward()"], ["outside forward()"]),
    "random": (RandomRandom, Category.SIDE_EFFECT, ["random.random", "global random state"],
               ["torch.rand"]),
    "data": (Data, Category.UNSUPPORTED_TENSOR_OP, ["`.data`"], [".detach()"]),
    "library_native": (LibraryNative, Category.UNSUPPORTED_NATIVE,
                       ["torch.random.get_rng_state()"], ["outside forward()"]),
    "buffers_dict": (BufferDict, Category.UNSUPPORTED_TENSOR_OP,
                     ["'cache'", "computed inside forward()"], ["__init__", "copy_"]),
    "int_tensor": (IntOfTensor, Category.DATA_DEPENDENT_VALUE, ["tensor to a Python index"],
                   [".item()", "torch._check"]),
}


def _refusal(module: nn.Module) -> GraphBreakError:
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(module, (torch.randn(3, requires_grad=False),))
    return info.value


def _assert_user_terms(err: GraphBreakError, where: str | None) -> None:
    text = str(err)
    leaked = INTERNAL_NAMES.findall(text)
    assert not leaked, f"internal names {leaked} in:\n{text}"
    assert err.hint and f"fix: {err.hint}" in text
    if where is not None:
        assert where in [f.location() for f in err.frames], text
        assert where in text


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_construct_is_refused_in_the_users_terms(construct):
    module, category, words, fix_words = CONSTRUCTS[construct]
    err = _refusal(module())
    _assert_user_terms(err, f"{THIS_FILE}:{_line(construct)}")
    assert err.location == f"{THIS_FILE}:{_line(construct)}"     # the innermost user frame
    assert err.category == category
    for word in words:
        assert word in err.reason, err.reason
    for word in fix_words:
        assert word in err.hint, err.hint


@pytest.mark.parametrize("category", sorted(test_diagnostics.EXPECTED))
def test_every_category_is_told_in_user_terms(category):
    module = test_diagnostics.EXPECTED[category][0]
    marker = test_diagnostics.EXPECTED[category][1]
    err = _refusal(module())
    _assert_user_terms(err, f"{test_diagnostics.THIS_FILE}:{test_diagnostics._line(marker)}")


@pytest.mark.parametrize("case", sorted(test_refusal_locations.CASES))
def test_every_refusal_site_case_is_told_in_user_terms(case):
    err = _refusal(test_refusal_locations._model(case))
    where = None if case == "bytecode" else \
        f"{test_refusal_locations.THIS_FILE}:{test_refusal_locations._marked_line(case)}"
    _assert_user_terms(err, where)


def test_the_walk_covers_every_category():
    seen = set(test_diagnostics.EXPECTED)
    seen |= {category for _, category, _, _ in CONSTRUCTS.values()}
    assert seen | {Category.USER_ERROR} == set(Category.all())


class ProgramError(nn.Module):
    def forward(self, x):
        return x * None  # refused: program_error


def test_program_errors_in_explain_name_the_tensor_as_eager_does():
    report = strict_tracer.explain(ProgramError(), (torch.randn(3),))
    (problem,) = report.problems
    assert problem.category == Category.USER_ERROR
    assert "unsupported operand type(s) for *: 'Tensor' and 'NoneType'" in problem.reason
    assert not INTERNAL_NAMES.findall(str(report))


def _refusal_texts(tree: ast.AST):
    """(line, text) of every string literal in the reason and hint of refuse()/GraphBreakError()."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in ("refuse", "GraphBreakError"):
            continue
        for part in [*node.args[1:], *(k.value for k in node.keywords if k.arg in ("reason", "hint"))]:
            for leaf in ast.walk(part):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                    yield leaf.lineno, leaf.value


def test_no_refusal_site_writes_internal_names():
    """Static walk of every refusal site in the sources: the literal text of each reason and
    fix is free of internal names (the dynamic walks above check what the values add)."""
    root = pathlib.Path(strict_tracer.__file__).resolve().parent.parent
    found = []
    for directory in ("strict_tracer", "ops", "symbolic"):
        for path in (root / directory).rglob("*.py"):
            for line, text in _refusal_texts(ast.parse(path.read_text())):
                if INTERNAL_NAMES.search(text) or "Proxy" in text:
                    found.append(f"{path.name}:{line}: {text!r}")
    assert found == []
