"""Starting an MPI job from the command line, and recognising that this process is a rank of one.

``faltung train --workers N`` runs ``mpiexec -n N python -m faltung train ...`` with the same
arguments; each rank sees that ``mpiexec`` started it and joins the job (``init()``).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from typing import Mapping, Sequence

# Set by the launchers in every process they start: MPICH's Hydra and Intel MPI (PMI_*),
# Open MPI (OMPI_*), and PMIx-based launchers such as Slurm's srun --mpi=pmix (PMIX_*).
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")

# Thread settings each rank gets from --workers, unless the user set them: N ranks share the cores.
THREAD_VARIABLES = ("FALTUNG_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def under_mpi(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether an MPI launcher started this process (then ``init()`` joins its job)."""
    return any(name in environ for name in LAUNCHER_VARIABLES)


def find_mpiexec() -> str:
    """The ``mpiexec`` where ``pip install mpich`` puts it (beside this Python, or in the user's
    scripts folder), else the one on PATH."""
    folders = [os.path.dirname(sys.executable), sysconfig.get_path("scripts"),
               sysconfig.get_path("scripts", f"{os.name}_user")]
    for folder in folders:
        candidate = os.path.join(folder, "mpiexec")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(f"--workers needs mpiexec, found neither in {', '.join(folders)} nor on PATH: "
                           "pip install 'faltung[mpi]'")
    return found


def mpiexec_command(workers: int, argv: Sequence[str], hostfile: str | None = None) -> list[str]:
    """``mpiexec -n N [-hostfile FILE] python -m faltung ARGV...`` (both MPICH and Open MPI read ``-hostfile``)."""
    hosts = ["-hostfile", hostfile] if hostfile else []
    return [find_mpiexec(), "-n", str(workers), *hosts, sys.executable, "-m", "faltung", *argv]


def worker_environment(workers: int, hostfile: str | None, environ: Mapping[str, str] = os.environ) -> dict:
    """The ranks' environment: on this machine alone, each rank gets its share of the cores
    (faltung's and BLAS's threads), so that N ranks do not fight over them."""
    env = dict(environ)
    if hostfile is None:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        for name in THREAD_VARIABLES:
            env.setdefault(name, share)
    return env


def run_workers(workers: int, argv: Sequence[str], hostfile: str | None = None) -> int:
    """Run this command as ``workers`` ranks of ``mpiexec`` and return its exit status.

    Ctrl-C reaches mpiexec too (same process group), which passes it on to every rank: they
    stop at the same batch and rank 0 saves the checkpoint. This process just waits for them.
    """
    if importlib.util.find_spec("mpi4py") is None:  # say so once, not once per rank
        raise RuntimeError("--workers needs mpi4py: pip install 'faltung[mpi]'")
    command = mpiexec_command(workers, argv, hostfile)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return subprocess.call(command, env=worker_environment(workers, hostfile))
    finally:
        signal.signal(signal.SIGINT, previous)
