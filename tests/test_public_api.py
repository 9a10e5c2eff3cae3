"""The public API (`strict_tracer.__all__`, `strict_tracer.testing.__all__`) and the package's
logging/warnings conventions: documented, annotated, NullHandler at the root, no prints or
ad-hoc stderr writes in library code, warnings pointing at the user's call."""
from __future__ import annotations

import ast
import inspect
import logging
import pathlib
import warnings

import pytest
import torch
from torch.export import Dim

import strict_tracer
import strict_tracer.testing

ROOT = pathlib.Path(strict_tracer.__file__).resolve().parent.parent
LIBRARY_DIRS = [ROOT / "strict_tracer", ROOT / "symbolic", ROOT / "ops"]
# Modules allowed to print: the command line and its demo, the campaign runner's CLI, and the
# handler that runs the traced program's own print() (eager semantics).
PRINTING_MODULES = {"strict_tracer/__main__.py", "strict_tracer/cli/demo.py",
                    "strict_tracer/testing/campaign.py", "strict_tracer/testing/opinfo_sweep.py",
                    "strict_tracer/interpreter/lookasides/builtin_handlers.py"}
# The one handler the library installs itself: STRICT_TRACER_LOG asks for it.
STDERR_MODULES = {"strict_tracer/log_options.py"}


def _public_functions(name: str, obj) -> list[tuple[str, object]]:
    """The functions to check for `obj`: itself, or a class's own public methods/properties."""
    if inspect.isfunction(obj):
        return [(name, obj)]
    found = []
    for key, value in vars(obj).items():
        if key.startswith("_"):
            continue
        if isinstance(value, property):
            value = value.fget
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            found.append((f"{name}.{key}", value))
    return found


def _own_docstring(name: str, obj) -> str:
    doc = obj.__doc__ or ""
    # dataclasses fill a missing class docstring with the constructor signature
    return "" if doc.startswith(f"{name}(") else doc.strip()


@pytest.mark.parametrize("module", [strict_tracer, strict_tracer.testing],
                         ids=lambda m: m.__name__)
def test_all_names_resolve_are_documented_and_annotated(module):
    assert len(module.__all__) == len(set(module.__all__))
    problems = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not _own_docstring(name, obj):
            problems.append(f"{name}: no docstring")
        for qualname, fn in _public_functions(name, obj):
            if not (fn.__doc__ or "").strip():
                problems.append(f"{qualname}: no docstring")
            params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
            missing = [p for p in params if p not in fn.__annotations__]
            if missing or "return" not in fn.__annotations__:
                problems.append(f"{qualname}: not annotated ({missing or 'return'})")
    assert problems == []


def test_all_lists_the_public_api():
    expected = {"export", "explain", "ExplainReport", "Problem", "GuardRecord", "Category",
                "StrictTracerError", "GraphBreakError", "ConstraintViolationError",
                "UserInputError", "InternalTracerError", "UserFrame", "InstructionInfo",
                "Location"}
    assert set(strict_tracer.__all__) == expected
    errors = [getattr(strict_tracer, n) for n in strict_tracer.__all__ if n.endswith("Error")]
    assert all(issubclass(e, strict_tracer.StrictTracerError) for e in errors)
    assert {"inputs_for", "violating_inputs", "accepts", "assert_matches_eager"} <= set(
        strict_tracer.testing.__all__)


def test_package_root_logger_has_a_null_handler_and_no_configuration():
    root = logging.getLogger("strict_tracer")
    assert any(type(h) is logging.NullHandler for h in root.handlers)
    assert root.level == logging.NOTSET and root.propagate


def _library_sources():
    for directory in LIBRARY_DIRS:
        for path in sorted(directory.rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def test_library_code_neither_prints_nor_configures_logging():
    found = []
    for rel, tree in _library_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "print" and rel not in PRINTING_MODULES:
                found.append(f"{rel}:{node.lineno} print()")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "sys" and node.attr in ("stderr", "stdout") \
                    and rel not in PRINTING_MODULES | STDERR_MODULES:
                found.append(f"{rel}:{node.lineno} sys.{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "basicConfig":
                found.append(f"{rel}:{node.lineno} logging.basicConfig")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "getLogger":
                arg = node.args[0] if node.args else None
                name = arg.value if isinstance(arg, ast.Constant) else None
                is_module_name = isinstance(arg, ast.Name) and arg.id == "__name__"
                if not (is_module_name or (isinstance(name, str)
                                           and name.split(".")[0] == "strict_tracer")):
                    found.append(f"{rel}:{node.lineno} logger outside the strict_tracer namespace")
    assert found == []


class _Double(torch.nn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize("spec, example, match", [
    ({"x": {0: Dim.AUTO}}, torch.randn(1, 3), "0/1 specialized"),
    ({"x": [None, None]}, torch.randn(2, 3), "None as a dynamic shape dimension is deprecated"),
], ids=["auto-0/1", "none-dim"])
def test_warnings_point_at_the_users_call(spec, example, match):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strict_tracer.export(_Double(), (example,), dynamic_shapes=spec)   # <- the user's call
    ours = [w for w in caught if match in str(w.message)]
    assert ours and all(w.category is UserWarning for w in ours)
    call_line = next(n for n, line in enumerate(inspect.getsource(
        test_warnings_point_at_the_users_call).splitlines()) if "<- the user's call" in line)
    first = inspect.getsourcelines(test_warnings_point_at_the_users_call)[1]
    assert {(w.filename, w.lineno) for w in ours} == {(__file__, first + call_line)}


def test_specialization_warning_goes_to_the_shapes_logger(caplog, monkeypatch):
    # The last resort, for a call whose kernel cannot run on symbolic sizes at all.
    from strict_tracer.ops import shape_rules
    from strict_tracer.ops.kernel_shapes import KernelShapeError

    def no_symbolic_kernel(*args):
        raise KernelShapeError("no symbolic kernel")
    monkeypatch.setattr(shape_rules, "kernel_shapes", no_symbolic_kernel)

    class Unsupported(torch.nn.Module):
        def forward(self, x):
            return torch.ops.aten._fft_r2c(x, [0], 0, True)

    with caplog.at_level(logging.WARNING, logger="strict_tracer.shapes"):
        strict_tracer.export(Unsupported(), (torch.randn(4, 3),),
                             dynamic_shapes={"x": {0: Dim.AUTO}})
    messages = [r.getMessage() for r in caplog.records if r.name == "strict_tracer.shapes"]
    assert messages and messages[0].startswith("specializing")
