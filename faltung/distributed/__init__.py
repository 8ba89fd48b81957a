"""Data-parallel training over MPI: call ``init()`` in a script started by ``mpiexec -n N`` and
``model.fit`` trains on N processes (ranks) with no other change to the script.

Each rank holds the whole model and the whole dataset; every global batch is split into N
shards, each rank computes the gradient of its shard, and one Allreduce sums them, so every
rank applies the same update. With the same seed and global batch, N ranks give one process's
weights up to float32 summation order (batch-norm statistics and random draws included).

>>> from faltung import distributed
>>> distributed.rank(), distributed.size(), distributed.is_primary()   # before init(): one process
(0, 1, True)

mpi4py is imported by ``init()`` only: ``import faltung`` stays NumPy-only.
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Callable, Iterator

__all__ = ["init", "rank", "size", "is_primary", "barrier", "local"]  # the rest serves faltung's own modules

_comm: Any = None            # faltung's own communicator (a duplicate of COMM_WORLD) once init() ran
_data_parallel: Any = None   # the DataParallel strategy, when init() found more than one rank
_local = 0                   # depth of local() blocks: inside one, this process works alone
_shard: Any = None           # the shard of a global batch this rank is working on, during a step


def init() -> None:
    """Join the MPI job this process belongs to; from then on fit, evaluate and predict are data-parallel.

    Safe to call twice, and in a process that ``mpiexec`` did not start (it is then a job of one).
    Under several ranks an uncaught exception on any rank ends every rank (``MPI_Abort``) with a
    message naming the rank, instead of leaving the others waiting in a collective forever.
    """
    global _comm, _data_parallel
    if _comm is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError("faltung.distributed.init() needs mpi4py and an MPI runtime: "
                          "pip install 'faltung[mpi]'") from err
    _comm = MPI.COMM_WORLD.Dup()  # a communicator of its own: the user's own MPI calls never interleave
    if _comm.size > 1:
        from .data_parallel import DataParallel
        _data_parallel = DataParallel(_comm)
        previous = sys.excepthook
        sys.excepthook = lambda kind, error, tb: _abort_on_uncaught(kind, error, tb, previous)


def rank() -> int:
    """This process's number in the job, 0 to ``size() - 1``; 0 before ``init()``."""
    return 0 if _comm is None else _comm.rank


def size() -> int:
    """How many processes train together; 1 before ``init()``."""
    return 1 if _comm is None else _comm.size


def is_primary() -> bool:
    """Whether this is rank 0: the one that runs callbacks, shows progress and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank has reached this call (nothing to wait for in a job of one)."""
    if _comm is not None:
        _comm.Barrier()


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Inside this block fit, evaluate and predict run on this process alone, e.g. on rank 0 only::

        if distributed.is_primary():
            with distributed.local():
                probabilities = model.predict(x_test)

    Files are still written by rank 0 only.
    """
    global _local
    _local += 1
    try:
        yield
    finally:
        _local -= 1


def strategy() -> Any:
    """What fit, evaluate and predict consult to share their work: the data-parallel strategy
    while several ranks train together, else a single-process one that changes nothing."""
    from .data_parallel import SINGLE_PROCESS
    return _data_parallel if _data_parallel is not None and not _local else SINGLE_PROCESS


def current_shard() -> Any:
    """This rank's ``Shard`` of the global batch while a data-parallel step runs, else None."""
    return _shard


@contextlib.contextmanager
def working_on(shard: Any) -> Iterator[None]:
    """Make ``shard`` the current one for the duration of one step (batch norm and random layers read it)."""
    global _shard
    _shard = shard
    try:
        yield
    finally:
        _shard = None


def draw_per_sample(draw: Callable[[int], Any], n: int) -> Any:
    """``draw(n)``: random values for n samples (leading axis n), drawn from a generator.

    In a data-parallel step every rank draws the values of the whole global batch and keeps
    its own rows: the values are one process's, and every rank's generator stays in step.
    """
    shard = _shard
    if shard is None or n != shard.rows:
        return draw(n)
    return draw(shard.total)[shard.first_row:shard.first_row + n]


def abort(code: int = 1) -> None:
    """End every rank of the job now (``MPI_Abort``) if there are several; else return."""
    if _comm is not None and _comm.size > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.2)  # let mpiexec forward the message before MPI_Abort ends the pipes it reads
        from mpi4py import MPI
        MPI.COMM_WORLD.Abort(code)


def _abort_on_uncaught(kind, error, tb, previous) -> None:
    """sys.excepthook under several ranks: report, then end the whole job."""
    if getattr(error, "faltung_rank", None) is None:
        # the message first, on one line: the traceback after it is the part a busy pipe may lose
        sys.stderr.write(f"faltung.distributed: rank {rank()} of {size()} raised {kind.__name__}: {error}; "
                         "ending all ranks\n")
        previous(kind, error, tb)
    else:
        # A copy of an exception rank 0 raised in a callback: rank 0 reports it and aborts the job;
        # aborting here at once could kill rank 0 before its message is out.
        sys.stderr.flush()
        time.sleep(10)
    abort(1)
