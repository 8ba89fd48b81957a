"""The ``faltung`` command: train, evaluate, predict and summarise CNNs from the shell.

Exit codes: 0 success, 1 a runtime error (one line, no traceback unless ``--debug``),
2 a usage error, 130 interrupted. Under ``mpiexec``, an error or Ctrl-C on one rank that
escapes ends every rank of the job (``faltung.distributed.abort``).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .. import distributed
from ..version import __version__


def build_parser() -> argparse.ArgumentParser:
    from . import explain, export, inspect, show, train
    parser = argparse.ArgumentParser(
        prog="faltung", description="Convolutional neural networks on NumPy alone: train, evaluate, predict.")
    parser.add_argument("--version", action="version", version=f"faltung {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, inspect, export, show, explain):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what `faltung train --workers N` runs again
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print(f"faltung{_where()}: interrupted", file=sys.stderr)
        distributed.abort(130)
        return 130
    # ImportError: an optional extra is missing; MemoryError: a last resort (sizes are bounded up front)
    except (ValueError, TypeError, OSError, RuntimeError, KeyError, ImportError, MemoryError) as err:
        if args.debug:
            raise
        if isinstance(err, KeyError):
            message = f"missing {err}"
        elif isinstance(err, MemoryError):
            message = f"out of memory: {err}" if str(err) else "out of memory"
        else:
            message = str(err)
        print(f"faltung{_where()}: error: {message}", file=sys.stderr)
        distributed.abort(1)  # the other ranks may be waiting for this one: end them too
        return 1


def _where() -> str:
    """' (rank 1 of 4)' in a data-parallel job, else nothing."""
    return f" (rank {distributed.rank()} of {distributed.size()})" if distributed.size() > 1 else ""
