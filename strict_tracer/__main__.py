"""Command line: `python -m strict_tracer {demo,explain,export}` (see `--help`).

Exit status: 0 on success (explain: no problems found), 1 when the module does not export
(explain: problems found), 2 for usage errors (bad target, bad input expressions).
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_TARGET_HELP = ("FILE.py:NAME or MODULE:NAME. NAME is an nn.Module instance, an nn.Module class "
                "(constructed without arguments), or a factory returning a module, (module, args) "
                "or (module, args, kwargs)")
_ARGS_HELP = ("example positional inputs, one expression each: torch factories such as "
              "\"randn(2, 3)\" or \"randint(0, 10, (4,))\", the shorthand \"f32[2, 3]\" / "
              "\"i64[8]\", Python literals, tuples/lists/dicts of these. Overrides the args a "
              "factory returns")
_EPILOG = """examples:
  python -m strict_tracer demo
  python -m strict_tracer explain model.py:MyModel --args "randn(8, 100)" "randn(8, 100)"
  python -m strict_tracer export model.py:make_model -o model.pt2
  python -m strict_tracer export model.py:MyModel --args "f32[2, 3]" --kwargs scale=2.0

exit status: 0 success (explain: no problems), 1 the module does not export
(explain: problems found), 2 usage error."""


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m strict_tracer", description="Strict graph capture for PyTorch.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.command == "demo":
        from .demo import run_demo
        return run_demo()
    from .cli_inputs import TargetError, evaluate_input, load_target
    try:
        target = load_target(options.target, options.args, options.kwargs, options.seed)
        dynamic_shapes = (None if options.dynamic_shapes is None
                          else evaluate_input(options.dynamic_shapes, allow_dims=True))
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.eval:
        target.module.eval()
    if options.command == "explain":
        return _explain(target, dynamic_shapes, options.json)
    return _export(target, dynamic_shapes, options.output, options.quiet, options.target)


def _explain(target, dynamic_shapes, as_json: bool) -> int:
    import strict_tracer
    try:
        report = strict_tracer.explain(target.module, target.args, target.kwargs,
                                       dynamic_shapes=dynamic_shapes)
    except strict_tracer.UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.to_json() if as_json else report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _export(target, dynamic_shapes, output: str | None, quiet: bool, spec: str) -> int:
    import torch
    import strict_tracer
    try:
        ep = strict_tracer.export(target.module, target.args, target.kwargs,
                                  dynamic_shapes=dynamic_shapes)
    except strict_tracer.UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except strict_tracer.StrictTracerError as exc:
        print(f"export failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"(run `python -m strict_tracer explain {spec} ...` to see every problem)",
              file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:      # the model itself raised while being traced
        notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
        print(f"export failed: the module raised {type(exc).__name__}: {exc}{notes}",
              file=sys.stderr)
        return EXIT_FAILED
    if not quiet:
        print(ep)
    if output:
        torch.export.save(ep, output)
        print(f"saved to {output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
