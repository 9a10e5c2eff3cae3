"""Command line: `python -m strict_tracer demo`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strict_tracer",
                                     description="Strict graph capture for PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="export an embedded example model and print the program")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo
        return run_demo()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
