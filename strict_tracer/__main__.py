"""Command line: `strict-tracer {demo,explain,export}` or `python -m strict_tracer ...`
(see `--help`). The program names itself as it was invoked.

Exit status: 0 on success (explain: no problems found), 1 when the module does not export
(explain: problems found), 2 for user errors (bad target, bad input expressions, an output
path that cannot be written), each reported on one line without a traceback; 130 when
interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MODULE_PROG = "python -m strict_tracer"

_TARGET_HELP = ("FILE.py:NAME or MODULE:NAME. NAME is an nn.Module instance, an nn.Module class "
                "(constructed without arguments), or a factory returning a module, (module, args) "
                "or (module, args, kwargs)")
_ARGS_HELP = ("example positional inputs, one expression each: torch factories such as "
              "\"randn(2, 3)\" or \"randint(0, 10, (4,))\", the shorthand \"f32[2, 3]\" / "
              "\"i64[8]\", Python literals, tuples/lists/dicts of these. Overrides the args a "
              "factory returns")
_EPILOG = """examples:
  {prog} demo
  {prog} explain model.py:MyModel --args "randn(8, 100)" "randn(8, 100)"
  {prog} export model.py:make_model -o model.pt2
  {prog} export model.py:MyModel --args "f32[2, 3]" --kwargs scale=2.0

exit status: 0 success (explain: no problems), 1 the module does not export
(explain: problems found), 2 user error (bad target, inputs or output path)."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (no usage dump)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def invoked_as(argv0: str | None = None) -> str:
    """How the user ran the command line: `strict-tracer` or `python -m strict_tracer`."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0 or "")
    if not name or name.endswith(".py") or name in ("-m", "-c"):
        return MODULE_PROG
    return name


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help=_TARGET_HELP)
    parser.add_argument("--args", nargs="*", metavar="EXPR", default=None, help=_ARGS_HELP)
    parser.add_argument("--kwargs", nargs="*", metavar="NAME=EXPR", default=[],
                        help="example keyword inputs, e.g. --kwargs scale=2.0 \"mask=bool[4]\"")
    parser.add_argument("--dynamic-shapes", metavar="EXPR", default=None,
                        help="dynamic_shapes as an expression, e.g. "
                             "\"({0: Dim('batch', min=1)},)\" (Dim.AUTO/STATIC/DYNAMIC allowed)")
    parser.add_argument("--seed", type=int, default=0,
                        help="torch.manual_seed before building the module and inputs (default 0)")
    parser.add_argument("--eval", action="store_true", help="call module.eval() before tracing")


def build_parser(prog: str = MODULE_PROG) -> argparse.ArgumentParser:
    from . import __version__
    parser = _Parser(
        prog=prog, description="Strict graph capture for PyTorch.",
        epilog=_EPILOG.format(prog=prog), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="export an embedded example model and print the program")
    explain = commands.add_parser(
        "explain", help="report every problem that keeps a module from exporting",
        description="Trace the module and report every problem (not only the first), with its "
                    "location, bytecode, stack values and a fix, plus the guards tracing added.")
    _add_target_arguments(explain)
    explain.add_argument("--json", action="store_true", help="print the report as JSON")
    export = commands.add_parser(
        "export", help="export a module to an ExportedProgram (optionally saved with -o)",
        description="Export the module with strict_tracer.export and print the program.")
    _add_target_arguments(export)
    export.add_argument("-o", "--output", metavar="FILE.pt2",
                        help="save the program with torch.export.save")
    export.add_argument("-q", "--quiet", action="store_true", help="do not print the program")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; `prog` defaults to how this process was invoked."""
    prog = prog or invoked_as()
    options = build_parser(prog).parse_args(argv)
    try:
        return _run(options, prog)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _usage_error(prog: str, message: object) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(options: argparse.Namespace, prog: str) -> int:
    if options.command == "demo":
        from .cli.demo import run_demo
        return run_demo()
    output = getattr(options, "output", None)
    if output:
        problem = output_problem(output)
        if problem:
            return _usage_error(prog, problem)
    from .cli.example_inputs import TargetError, evaluate_input, load_target
    try:
        target = load_target(options.target, options.args, options.kwargs, options.seed)
        dynamic_shapes = (None if options.dynamic_shapes is None
                          else evaluate_input(options.dynamic_shapes, allow_dims=True))
    except TargetError as exc:
        return _usage_error(prog, exc)
    if options.eval:
        target.module.eval()
    if options.command == "explain":
        return _explain(target, dynamic_shapes, options.json, prog)
    return _export(target, dynamic_shapes, options, prog)


def output_problem(path: str) -> str | None:
    """Why `path` cannot be written (checked before the export, which may take long)."""
    if os.path.isdir(path):
        return f"cannot save to {path}: it is a directory (give a file name, e.g. model.pt2)"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"cannot save to {path}: directory {directory} does not exist"
    if not os.access(directory, os.W_OK):
        return f"cannot save to {path}: directory {directory} is not writable"
    return None


def _explain(target, dynamic_shapes, as_json: bool, prog: str) -> int:
    import strict_tracer
    try:
        report = strict_tracer.explain(target.module, target.args, target.kwargs,
                                       dynamic_shapes=dynamic_shapes)
    except strict_tracer.UserInputError as exc:
        return _usage_error(prog, exc)
    print(report.to_json() if as_json else report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _export(target, dynamic_shapes, options: argparse.Namespace, prog: str) -> int:
    import torch
    import strict_tracer
    try:
        ep = strict_tracer.export(target.module, target.args, target.kwargs,
                                  dynamic_shapes=dynamic_shapes)
    except strict_tracer.UserInputError as exc:
        return _usage_error(prog, exc)
    except strict_tracer.StrictTracerError as exc:
        print(f"export failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"(run `{prog} explain {options.target} ...` to see every problem)",
              file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:      # the model itself raised while being traced
        notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
        print(f"export failed: the module raised {type(exc).__name__}: {exc}{notes}",
              file=sys.stderr)
        return EXIT_FAILED
    if not options.quiet:
        print(ep)
    if options.output:
        try:
            torch.export.save(ep, options.output)
        except OSError as exc:
            return _usage_error(prog, f"cannot save to {options.output}: {exc.strerror or exc}")
        print(f"saved to {options.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
