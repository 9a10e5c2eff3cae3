"""The command line: `python -m strict_tracer {demo,explain,export}`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from strict_tracer.__main__ import main
from strict_tracer.cli_inputs import TargetError, evaluate_input

MODELS = textwrap.dedent("""
    import torch

    class Good(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, x, scale=1.0):
            return self.lin(x) * scale

    def make_good():
        return Good(), (torch.randn(4, 3),)

    class Bad(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:                 # <- branch
                x = x * 2
            n = int(x.max())                # <- int
            return x.data + n               # <- data

    def broken():
        raise RuntimeError("cannot build")

    class Pair(torch.nn.Module):
        def forward(self, x, y):
            if x.shape[0] > 2:              # <- pair_branch
                x = x * 2
            return x + y
""")


def _line(marker: str) -> int:
    return next(n for n, line in enumerate(MODELS.splitlines(), 1) if line.endswith(f"# <- {marker}"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "models.py"
    path.write_text(MODELS)
    return path


def _run(*args: str, cwd) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "strict_tracer", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(models):
    """The subprocess runs, started together (each pays the torch import); the other
    commands and exit codes are tested in process through main()."""
    out = models.parent / "good.pt2"
    commands = {
        "help": ("--help",),
        "explain_bad": ("explain", "models.py:Bad", "--args", "randn(2, 4)"),
        "export_good": ("export", "models.py:make_good", "-o", str(out), "-q"),
    }
    procs = {name: _run(*args, cwd=models.parent) for name, args in commands.items()}
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        results[name] = (proc.returncode, stdout, stderr)
    results["pt2"] = out
    return results


def test_help(runs):
    code, stdout, _ = runs["help"]
    assert code == 0
    assert "explain" in stdout and "export" in stdout and "demo" in stdout and "exit status" in stdout


def test_explain_reports_every_problem_and_fails(runs, models):
    code, stdout, _ = runs["explain_bad"]
    assert code == 1
    assert stdout.startswith("explain(): 3 problems found")
    for marker in ("branch", "int", "data"):
        assert f"{models}:{_line(marker)}" in stdout


def test_export_saves_a_loadable_program(runs):
    code, stdout, stderr = runs["export_good"]
    assert code == 0, stderr
    assert f"saved to {runs['pt2']}" in stdout
    ep = torch.export.load(str(runs["pt2"]))
    x = torch.randn(4, 3)
    assert ep.module()(x).shape == (4, 2)


# ---------------------------------------------------------------------- in process
def test_export_failure_prints_the_error_and_exits_1(models, capsys):
    assert main(["export", f"{models}:Bad", "--args", "f32[2, 4]"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "export failed: GraphBreakError: data-dependent branch" in captured.err
    assert f"{models}:{_line('branch')}" in captured.err
    assert "POP_JUMP_FORWARD_IF_FALSE" in captured.err
    assert f"python -m strict_tracer explain {models}:Bad" in captured.err


def test_bad_target_is_a_usage_error(capsys):
    assert main(["explain", "nowhere.py:Model", "--args", "randn(2)"]) == 2
    assert "no such file: nowhere.py" in capsys.readouterr().err


def test_explain_clean_module_exits_0_with_json(models, capsys):
    assert main(["explain", f"{models}:Good", "--args", "randn(5, 3)", "--kwargs", "scale=2.0",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["problems"] == [] and data["ops"] == 2


def test_explain_json_lists_every_problem_with_its_place_and_fix(models, capsys):
    assert main(["explain", f"{models}:Bad", "--args", "randn(2, 4)", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert not data["ok"]
    got = [(p["category"], p["kind"], p["file"], p["line"], p["opname"]) for p in data["problems"]]
    assert got == [
        ("data-dependent branch", "limitation", str(models), _line("branch"),
         "POP_JUMP_FORWARD_IF_FALSE"),
        ("data-dependent value used as Python scalar", "limitation", str(models), _line("int"),
         "CALL"),
        ("unsupported tensor op", "limitation", str(models), _line("data"), "LOAD_ATTR"),
    ]
    for problem in data["problems"]:
        assert problem["message"] and problem["fix"] and isinstance(problem["offset"], int)


def test_factory_args_and_usage_errors(models, capsys):
    assert main(["export", f"{models}:Good"]) == 2          # no example inputs anywhere
    assert "pass --args" in capsys.readouterr().err
    assert main(["export", f"{models}:broken"]) == 2
    assert "broken() failed: RuntimeError: cannot build" in capsys.readouterr().err
    assert main(["export", f"{models}:Good", "--args", "__import__('os')"]) == 2
    assert main(["export", f"{models}:make_good", "-q"]) == 0


def test_dynamic_shapes_option(models, capsys):
    args = ["--args", "randn(4, 3)", "randn(4, 3)"]
    assert main(["explain", f"{models}:Pair", *args, "--dynamic-shapes",
                 "({0: Dim('b')}, {0: Dim('c')})"]) == 1
    out = capsys.readouterr().out
    assert "dynamic_shapes constraints violated" in out and "c = b" in out
    assert f"guard: s27 > 2  ({models}:{_line('pair_branch')} in forward" in out
    assert main(["export", f"{models}:Pair", *args, "--dynamic-shapes",
                 "({0: Dim('b', min=3)}, {0: Dim('b', min=3)})"]) == 0
    assert "Range constraints: {s" in capsys.readouterr().out


def test_demo_still_works(capsys):
    assert main(["demo"]) == 0
    assert "ExportedProgram" in capsys.readouterr().out


def test_input_expressions():
    assert evaluate_input("f32[2, 3]").shape == (2, 3)
    assert evaluate_input("i64[4]").dtype == torch.int64
    assert evaluate_input("bool[2]").dtype == torch.bool
    assert evaluate_input("zeros(2, dtype=float16)").dtype == torch.float16
    assert evaluate_input("torch.ones(3)").sum().item() == 3
    assert evaluate_input("(randn(1), {'k': [1, -2.5, None]})")[1] == {"k": [1, -2.5, None]}
    assert evaluate_input("randint(0, 10, (5,))").shape == (5,)
    dims = evaluate_input("({0: Dim('batch', min=2)}, Dim.AUTO)", allow_dims=True)
    assert dims[0][0].__name__ == "batch" and dims[1] is torch.export.Dim.AUTO
    for bad in ("open('x')", "x.__class__", "randn(2).numpy()", "Dim('b')", "1 +"):
        with pytest.raises(TargetError):
            evaluate_input(bad)
