"""The command line: `python -m strict_tracer {demo,explain,export}`."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import strict_tracer
from support.bytecode_expect import branch_opname
from strict_tracer.__main__ import invoked_as, main
from strict_tracer.cli.example_inputs import TargetError, evaluate_input

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
            n = [1, 2, 3][x.argmax()]       # <- int
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


SCRIPT = os.path.join(os.path.dirname(sys.executable), "strict-tracer")   # the console script


def _run(*args: str, cwd, script: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [SCRIPT] if script else [sys.executable, "-m", "strict_tracer"]
    return subprocess.Popen([*command, *args], cwd=cwd, env=env,
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
        "version": ("--version",),
    }
    procs = {name: _run(*args, cwd=models.parent) for name, args in commands.items()}
    procs["script_version"] = _run("--version", cwd=models.parent, script=True)

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


def test_version_and_the_name_the_program_was_invoked_by(runs):
    version = importlib.metadata.version("strict-tracer")
    assert strict_tracer.__version__ == version
    assert runs["version"][:2] == (0, f"python -m strict_tracer {version}\n")
    assert runs["script_version"][:2] == (0, f"strict-tracer {version}\n")


def test_invoked_as():
    assert invoked_as("/venv/bin/strict-tracer") == "strict-tracer"
    assert invoked_as("/src/strict_tracer/__main__.py") == "python -m strict_tracer"
    assert invoked_as("-m") == "python -m strict_tracer"


# ---------------------------------------------------------------------- in process
def _one_line_error(err: str, prog: str = "strict-tracer") -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"{prog}: error: ") or err.startswith(f"{prog} export: error: "), err
    return err


def test_user_errors_are_one_line_without_traceback(models, tmp_path, capsys):
    cases = [
        (["export", "nowhere.py:Model"], "no such file: nowhere.py"),
        (["export", f"{models}:Nope", "--args", "f32[2]"], "has no attribute 'Nope'"),
        (["export", f"{models}:Good", "--args", "f32[2"], "cannot parse input expression"),
        (["export", f"{models}:Good", "--args", "randn(-1)"], "negative dimension"),
        (["export", f"{models}:Good", "--args", "f32[2, 3]", "f32[2]", "f32[1]"],
         "do not match Good.forward"),
        (["export", f"{models}:make_good", "-o", str(tmp_path)], "it is a directory"),
        (["export", f"{models}:make_good", "-o", "/nonexistent/dir/m.pt2"],
         "cannot save to /nonexistent/dir/m.pt2: directory /nonexistent/dir does not exist"),
    ]
    for argv, expected in cases:
        assert main(argv, prog="strict-tracer") == 2, argv
        assert expected in _one_line_error(capsys.readouterr().err), argv
    for argv in (["bogus"], ["export"], ["export", "x.py:M", "--seed", "many"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv, prog="strict-tracer")
        assert exit_.value.code == 2
        assert _one_line_error(capsys.readouterr().err).endswith("--help)\n")


def test_a_save_that_fails_after_the_export_is_one_line(models, tmp_path, capsys, monkeypatch):
    def full_disk(ep, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.export, "save", full_disk)
    out = tmp_path / "m.pt2"
    assert main(["export", f"{models}:make_good", "-q", "-o", str(out)], prog="strict-tracer") == 2
    err = _one_line_error(capsys.readouterr().err)
    assert err == f"strict-tracer: error: cannot save to {out}: No space left on device\n"


def test_export_failure_prints_the_error_and_exits_1(models, capsys):
    assert main(["export", f"{models}:Bad", "--args", "f32[2, 4]"],
                prog="python -m strict_tracer") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "export failed: GraphBreakError: data-dependent branch" in captured.err
    assert f"{models}:{_line('branch')}" in captured.err
    assert branch_opname("x.sum() > 0") in captured.err
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
         branch_opname("x.sum() > 0")),
        ("data-dependent value used as Python scalar", "limitation", str(models), _line("int"),
         "BINARY_SUBSCR"),
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
