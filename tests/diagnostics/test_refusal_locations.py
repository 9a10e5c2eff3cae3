"""Every refusal carries its location, wherever in the program it happens.

Each case below is refused on the line marked `# refused: <case>`; the error must name that
file:line as its user location, point at an instruction of the innermost frame (with the
arrow in the bytecode window), describe stack values and give a fix.
"""
from __future__ import annotations

import ast
import copy
import operator
import pathlib
import sys
import types

import pytest
import torch
import torch.nn.functional as F

import strict_tracer
from support.bytecode_expect import find
from strict_tracer import Category, GraphBreakError

THIS_FILE = __file__


def _marked_line(case: str) -> int:
    with open(THIS_FILE) as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith(f"# refused: {case}"):
                return number
    raise AssertionError(f"no marker for {case}")


def _closure_branch(x):
    def inner(t):
        if t.sum() > 0:  # refused: closure
            return t
        return -t
    return inner(x)


class _Helper:
    def __init__(self, t):
        self.scale = operator.index(t.argmax())  # refused: helper_init


class _Truthy:
    def __init__(self, t):
        self.t = t

    def __bool__(self):
        return bool(self.t.any())  # refused: user_bool


class _Manager:
    def __init__(self, t):
        self.t = t

    def __enter__(self):
        return operator.index(self.t.argmax())  # refused: context_manager

    def __exit__(self, *exc):
        return False


def _recursive(t, n):
    if n == 0:
        return t.apply_(abs)  # refused: recursion
    return _recursive(t, n - 1)


def _gen(t):
    for row in t:
        yield operator.index(row.long())  # refused: generator


class _Sub(torch.Tensor):
    pass


_INTERACTIVE = types.FunctionType(compile("1 + 1", "<interactive-snippet>", "single"), {})


async def _coroutine(t):
    return t


class Case(torch.nn.Module):
    def __init__(self, body, setup=None):
        super().__init__()
        self.body = body
        if setup is not None:
            setup(self)

    def forward(self, x):
        return self.body(self, x)  # refused: output_type


def _pre_hook_setup(mod):
    def hook(module, args):
        if args[0].max() > 1:  # refused: pre_hook
            return args
        return None
    mod.register_forward_pre_hook(hook)


def _property_setup(mod):
    mod.register_buffer("buf", torch.zeros(3))


class _WithProperty(torch.nn.Module):
    @property
    def level(self):
        return int(self.weight.sum())  # refused: property

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x * self.level


class _Inner(torch.nn.Module):
    def forward(self, x):
        return x.nonzero()  # refused: submodule


CASES = {
    "closure": (lambda self, x: _closure_branch(x), None),
    "helper_init": (lambda self, x: x * _Helper(x).scale, None),
    "user_bool": (lambda self, x: x if _Truthy(x) else -x, None),
    "context_manager": (lambda self, x: _with_manager(x), None),
    "recursion": (lambda self, x: _recursive(x, 3), None),
    "generator": (lambda self, x: list(_gen(x)), None),
    "sorted_key": (lambda self, x: sorted([x, -x], key=lambda t: float(t.sum())), None),  # refused: sorted_key
    "genexpr": (lambda self, x: sum(1 for t in [x] if t.sum() > 0), None),  # refused: genexpr
    "pre_hook": (lambda self, x: x + 1, _pre_hook_setup),
    "output_type": (lambda self, x: object(), None),   # refused at forward's return
    "buffer_shape": (lambda self, x: setattr(self, "buf", torch.zeros(5)), _property_setup),  # refused: buffer_shape
    "print_file": (lambda self, x: print(x.shape, file=sys.stderr), None),  # refused: print_file
    "tensor_data": (lambda self, x: x.data, None),  # refused: tensor_data
    "open_file": (lambda self, x: open("/dev/null"), None),  # refused: open_file
    "getframe": (lambda self, x: sys._getframe(50), None),  # refused: getframe
    "coroutine": (lambda self, x: _coroutine(x), None),  # refused: coroutine
    "fstring": (lambda self, x: f"{x}", None),  # refused: fstring
    "hash": (lambda self, x: hash(x), None),  # refused: hash
    "set_requires_grad": (lambda self, x: setattr(x, "requires_grad", True), None),  # refused: set_requires_grad
    "try_except": (lambda self, x: _swallow(x), None),
    "library_dropout": (lambda self, x: F.dropout(x, p=x.sum()), None),  # refused: library_dropout
    "tensor_subclass": (lambda self, x: x + self.sub, lambda m: setattr(m, "sub", torch.ones(3).as_subclass(_Sub))),  # refused: tensor_subclass
    "bytecode": (lambda self, x: _INTERACTIVE(), None),
    "id_in_helper": (lambda self, x: x + id(x), None),  # refused: id_in_helper
    "tensor_from_values": (lambda self, x: torch.tensor([x.sum()]), None),  # refused: tensor_from_values
    "apply": (lambda self, x: x.apply_(lambda v: v * 2), None),  # refused: apply
    "numpy": (lambda self, x: x.numpy().sort(), None),  # refused: numpy
    "tensor_dict": (lambda self, x: vars(x), None),  # refused: tensor_dict
    "deepcopy": (lambda self, x: copy.deepcopy(x), None),  # refused: deepcopy
}


def _with_manager(x):
    with _Manager(x) as index:
        return x[index]


def _swallow(x):
    try:
        if x.mean() > 0:  # refused: try_except
            return x
    except Exception:
        return None
    return -x


def _model(case: str) -> torch.nn.Module:
    body, setup = CASES[case]
    return Case(body, setup)


MARKED = sorted(set(CASES) - {"bytecode"})


@pytest.mark.parametrize("case", MARKED)
def test_refusal_is_located(case):
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(_model(case), (torch.randn(3),))
    err = info.value
    line = _marked_line(case)
    assert err.location == f"{THIS_FILE}:{line}", str(err)
    assert err.instruction is not None
    assert [current for current, _ in err.window].count(True) == 1
    assert err.hint
    text = str(err)
    assert f"{THIS_FILE}:{line}" in text
    assert err.instruction.opname in text
    assert "fix: " in text


def test_refusal_in_other_code_is_located():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(_model("bytecode"), (torch.randn(3),))
    err = info.value
    assert err.category == Category.UNSUPPORTED_BYTECODE
    assert err.frames[0].filename == "<interactive-snippet>"
    # 3.11: PRINT_EXPR; 3.12+: CALL_INTRINSIC_1 (INTRINSIC_PRINT)
    assert err.instruction.opname == find(_INTERACTIVE, lambda i: "PRINT" in i.opname + i.argrepr).opname
    assert err.frames[1].filename == THIS_FILE


def test_library_frames_are_folded_behind_the_user_frame():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(_model("library_dropout"), (torch.randn(3),))
    err = info.value
    assert err.frames[0].is_library and "functional.py" in err.frames[0].filename
    text = str(err)
    assert "failed inside library code" in text and "library frame" in text


def test_equal_code_in_two_files_is_located_in_its_own_file():
    """Code objects compare equal across files; the location must still be the right file."""
    source = "def forward(self, x):\n    return (lambda t: t if t.sum() > 0 else -t)(x)\n"
    for filename in ("<first-file>", "<second-file>"):
        namespace: dict = {}
        exec(compile(source, filename, "exec"), namespace)
        module = type("M", (torch.nn.Module,), {"forward": namespace["forward"]})()
        with pytest.raises(GraphBreakError) as info:
            strict_tracer.export(module, (torch.randn(3),))
        assert [f.filename for f in info.value.frames] == [filename, filename]


# ---------------------------------------------------------------------- source audit
_SOURCE_DIRS = ("strict_tracer", "symbolic", "ops")
_ERROR_NAMES = {"GraphBreakError", "StrictTracerError"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            yield name, node


def test_every_refusal_site_names_a_category():
    """Refusals are built only by refuse()/GraphBreakError with a Category constant."""
    root = pathlib.Path(strict_tracer.__file__).resolve().parent.parent
    problems = []
    for directory in _SOURCE_DIRS:
        for path in (root / directory).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for name, call in _calls(tree):
                if name in _ERROR_NAMES and path.name != "errors.py":
                    if name == "StrictTracerError":
                        problems.append(f"{path}:{call.lineno}: raise a subclass, not StrictTracerError")
                        continue
                if name in ("GraphBreakError", "refuse") and path.name != "errors.py":
                    first = call.args[0] if call.args else None
                    ok = (isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name)
                          and first.value.id == "Category") or isinstance(first, ast.Name)
                    if not ok or len(call.args) < 2:
                        problems.append(f"{path}:{call.lineno}: {name}() without a category and reason")
    assert not problems, "\n".join(problems)
