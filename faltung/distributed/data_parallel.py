"""The strategies ``fit``, ``evaluate`` and ``predict`` consult at a few points: how to shard a
batch, how to combine the ranks' gradients, losses and metrics, who runs the callbacks.

``SINGLE_PROCESS`` changes nothing. ``DataParallel`` splits every global batch into one
contiguous shard per rank; each rank's loss is the mean over its shard, so its backward pass
starts from its share of the global batch (shard size / batch size) and the sum of the ranks'
gradients, one Allreduce over a flat buffer, is the global batch's mean gradient, also when
the shards are unequal (a short last batch).
"""
from __future__ import annotations

import contextlib
import copy
import math
import pickle
import time
from typing import Any, Iterator

import numpy as np

from .. import backend
from ..callbacks import CallbackList, History
from . import working_on


def _length(batch: Any) -> int:
    return batch.stop - batch.start if isinstance(batch, slice) else len(batch)


def _part(batch: Any, lo: int, hi: int) -> Any:
    """Rows lo..hi of a batch given as an index array or as a slice with start and stop."""
    if isinstance(batch, slice):
        return slice(batch.start + lo, batch.start + hi)
    return batch[lo:hi]


class SingleProcess:
    """One process does all the work: every hook is the identity."""

    rank, size = 0, 1

    def begin(self, model: Any, what: str, fit: bool = False) -> None:
        pass

    def callbacks(self, callbacks: CallbackList, model: Any) -> CallbackList:
        return callbacks

    def verbose(self, verbose: Any) -> Any:
        return verbose

    def share_random_state(self) -> None:
        pass

    @contextlib.contextmanager
    def shard(self, batch: Any) -> Iterator[tuple[Any, int]]:
        yield batch, _length(batch)

    def logs(self, total: float, seen: int, metrics: list) -> dict:
        return {"loss": total / seen, **{m.name: float(m.result()) for m in metrics}}

    def concatenate(self, parts: list[np.ndarray], n: int, batch_size: int) -> np.ndarray:
        return np.concatenate(parts)


SINGLE_PROCESS = SingleProcess()


class Shard:
    """This rank's part of one global batch of ``total`` samples: samples ``start`` to ``stop``.

    A rank whose part is empty (a last batch smaller than the number of ranks) computes the
    global batch's first sample as a placeholder with weight 0, so that it still takes part in
    every collective of the step (batch norm's among them). ``first_row`` and ``rows`` say which
    samples it computes.
    """

    def __init__(self, strategy: "DataParallel", start: int, stop: int, total: int):
        self.strategy, self.start, self.stop, self.total = strategy, start, stop, total
        self.size = stop - start
        self.first_row, self.rows = (start, self.size) if self.size else (0, 1)

    @property
    def share(self) -> float:
        """The weight of this rank's shard-mean loss in the global batch's mean."""
        return self.size / self.total

    def count(self, local_count: int) -> int:
        """The global batch's count of values per channel, from this rank's ``local_count`` for its rows."""
        return local_count // self.rows * self.total

    def sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` summed over the ranks (in float64; a small Allreduce)."""
        return self.strategy.sum_small(np.asarray(values, dtype=np.float64))

    def moments(self, data: np.ndarray, axes: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and biased variance over ``axes`` of the global batch, as float ``data.dtype``.

        Each rank contributes its count n_r, mean m_r and variance v_r (placeholder rows count 0);
        then mean = sum(n_r m_r) / n and variance = (sum(n_r v_r) + sum(n_r m_r^2) - n mean^2) / n
        (Chan et al.'s pairwise combination, in float64 so that the last difference stays exact).
        """
        n_r = data.size // data.shape[-1] if self.size else 0
        mean_r, var_r = data.mean(axis=axes).astype(np.float64), data.var(axis=axes).astype(np.float64)
        s_mean, s_square, s_var = self.sum(np.stack([n_r * mean_r, n_r * mean_r ** 2, n_r * var_r]))
        n = self.count(data.size // data.shape[-1])
        mean = s_mean / n
        var = np.maximum((s_var + s_square - n * mean ** 2) / n, 0.0)
        return mean.astype(data.dtype), var.astype(data.dtype)

    def sum_gradients(self, grads: list) -> list:
        return self.strategy.sum_gradients(grads)


class DataParallel:
    """Training on every rank of ``comm`` at once; rank 0 runs the callbacks and shows progress.

    ``seconds`` adds up the time spent in the gradients' Allreduce and in the small collectives
    (losses, metrics, callbacks' effects, batch norm), for ``benchmarks/distributed.py``.
    """

    def __init__(self, comm: Any):
        from mpi4py import MPI
        self._in_place, self._sum = MPI.IN_PLACE, MPI.SUM
        self.comm, self.rank, self.size = comm, comm.rank, comm.size
        self._buffer: np.ndarray | None = None  # the flat gradient buffer, reused step after step
        self.seconds = {"gradients": 0.0, "small": 0.0}

    # ----- before the first batch -----
    def begin(self, model: Any, what: str, fit: bool = False) -> None:
        """Check that every rank runs the same loop (else the collectives would wait forever), then
        give every rank rank 0's weights and, for ``fit``, its optimizer state and random generator.

        ``what`` describes the loop, e.g. "evaluate on 400 samples in batches of 32".
        """
        if not model.built:
            raise ValueError(f"model {model.name!r} is not built: data-parallel, its weights must exist before the "
                             "first batch, so that rank 0's reach every rank; give it an Input, or call "
                             "model.build(input_shape) or model(x[:1]) first")
        what = f"{what} with a model of {model.count_params()} parameters"
        seen = self.comm.allgather(what)
        if len(set(seen)) > 1:
            ranks = "; ".join(f"rank {r}: {s}" for r, s in enumerate(seen))
            raise ValueError(f"the ranks were asked for different work ({ranks}); every rank must get the "
                             "same data and arguments")
        self.broadcast_weights(model)
        if fit:
            state = model.optimizer.get_state(model.trainable_weights) if self.rank == 0 else None
            state = self.comm.bcast(state, root=0)
            if self.rank:
                model.optimizer.set_state(model.trainable_weights, state)
            self.share_random_state()

    def broadcast_weights(self, model: Any) -> None:
        for w in model.weights:
            self.comm.Bcast(w.data, root=0)

    def share_random_state(self) -> None:
        """Rank 0's random generator state on every rank, so that they draw the same shuffle.

        Random layers keep the generators in step anyway (``draw_per_sample``); this also covers a
        layer of the user's that draws per shard.
        """
        state = self.comm.bcast(backend.rng().bit_generator.state if self.rank == 0 else None, root=0)
        backend.rng().bit_generator.state = state

    def callbacks(self, callbacks: CallbackList, model: Any) -> "PrimaryCallbacks":
        return PrimaryCallbacks(self, callbacks, model)

    def verbose(self, verbose: Any) -> Any:
        return verbose if self.rank == 0 else 0

    # ----- each batch -----
    @contextlib.contextmanager
    def shard(self, batch: Any) -> Iterator[tuple[Any, int]]:
        """This rank's samples of a global batch (index array or slice) and how many of them count.

        While the step runs, the ``Shard`` is current: batch norm and random layers read it.
        """
        total = _length(batch)
        shard = Shard(self, *self.bounds(total, self.rank), total)
        with working_on(shard):
            yield _part(batch, shard.first_row, shard.first_row + shard.rows), shard.size

    def bounds(self, total: int, rank: int) -> tuple[int, int]:
        """Where ``rank``'s contiguous shard of a global batch of ``total`` samples starts and stops."""
        return total * rank // self.size, total * (rank + 1) // self.size

    def sum_gradients(self, grads: list) -> list:
        """``[(gradient, variable), ...]`` with each gradient summed over the ranks: one Allreduce
        over one flat buffer (one message instead of one per variable)."""
        size = sum(g.size for g, _ in grads)
        dtype = np.result_type(*[g.dtype for g, _ in grads])
        if self._buffer is None or self._buffer.size != size or self._buffer.dtype != dtype:
            self._buffer = np.empty(size, dtype)
        views, offset = [], 0
        for g, _ in grads:
            views.append(self._buffer[offset:offset + g.size].reshape(g.shape))
            views[-1][...] = g
            offset += g.size
        began = time.perf_counter()
        self.comm.Allreduce(self._in_place, self._buffer, op=self._sum)
        self.seconds["gradients"] += time.perf_counter() - began
        return [(view, v) for view, (_, v) in zip(views, grads)]

    def sum_small(self, values: np.ndarray) -> np.ndarray:
        """``values`` (float64) summed over the ranks, in place."""
        began = time.perf_counter()
        self.comm.Allreduce(self._in_place, values, op=self._sum)
        self.seconds["small"] += time.perf_counter() - began
        return values

    def broadcast_small(self, values: np.ndarray) -> np.ndarray:
        """Rank 0's ``values`` (float64) on every rank, in place."""
        began = time.perf_counter()
        self.comm.Bcast(values, root=0)
        self.seconds["small"] += time.perf_counter() - began
        return values

    def logs(self, total: float, seen: int, metrics: list) -> dict:
        """The running loss and metrics of the whole global batches so far, equal on every rank.

        A metric with a running ``total`` and ``count`` (every faltung metric) is summed exactly;
        any other is averaged over the ranks, weighted by their samples.
        """
        parts = [total, seen]
        for m in metrics:
            parts += [m.total, m.count] if _is_mean(m) else [float(m.result()) * seen, seen]
        sums = self.sum_small(np.array(parts, dtype=np.float64))
        logs = {"loss": float(sums[0] / sums[1])}
        for i, m in enumerate(metrics):
            m_total, m_count = sums[2 + 2 * i:4 + 2 * i]
            logs[m.name] = _mean_result(m, m_total, m_count) if _is_mean(m) else float(m_total / m_count)
        return logs

    # ----- predict -----
    def concatenate(self, parts: list[np.ndarray], n: int, batch_size: int) -> np.ndarray:
        """Every rank's outputs for its shards of the batches of ``n`` samples, in the samples' order."""
        mine = np.ascontiguousarray(np.concatenate(parts))
        counts = self.comm.allgather(len(mine))
        gathered = np.empty((sum(counts),) + mine.shape[1:], mine.dtype)
        row = math.prod(mine.shape[1:])
        self.comm.Allgatherv(mine, [gathered, [c * row for c in counts]])
        # gathered holds rank 0's rows of every batch, then rank 1's, ...: put each row at its sample
        where = [start + np.arange(*self.bounds(min(batch_size, n - start), r))
                 for r in range(self.size) for start in range(0, n, batch_size)]
        out = np.empty_like(gathered)
        out[np.concatenate(where)] = gathered
        return out


def _is_mean(metric: Any) -> bool:
    return hasattr(metric, "total") and hasattr(metric, "count")


def _mean_result(metric: Any, total: float, count: float) -> float:
    """The metric's own ``result()`` for the summed state (its rounding included), leaving it untouched."""
    reduced = copy.copy(metric)
    reduced.total, reduced.count = float(total), float(count)
    return float(reduced.result())


class PrimaryCallbacks:
    """A ``CallbackList`` whose hooks run on rank 0 only; what they change reaches every rank.

    After each hook rank 0 sends ``model.stop_training``, the learning rate and whether the hook
    raised; every rank then stops, sets the rate, or raises a copy of rank 0's exception, so all
    ranks leave ``fit`` at the same batch. After ``on_epoch_end`` rank 0's logs are sent (callbacks
    add to them, e.g. the learning rate), after ``on_train_end`` its weights (e.g. the best ones
    EarlyStopping restored). ``History`` runs on every rank, so fit returns the same one everywhere.
    """

    def __init__(self, strategy: DataParallel, callbacks: CallbackList, model: Any):
        self.strategy, self.model = strategy, model
        self.primary = strategy.rank == 0
        self.callbacks = callbacks if self.primary else CallbackList(
            [cb for cb in callbacks.callbacks if isinstance(cb, History)])

    def __getattr__(self, hook: str) -> Any:
        run = getattr(self.callbacks, hook)

        def call(*args: Any, **kwargs: Any) -> None:
            error = None
            if self.primary:
                try:
                    run(*args, **kwargs)
                except BaseException as err:  # noqa: BLE001 - every rank must learn of it, Ctrl-C included
                    error = err
            self._share(error)
            logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict) else None)
            if hook == "on_epoch_end" and logs is not None:
                primary_logs = self.strategy.comm.bcast(logs if self.primary else None, root=0)
                logs.update(primary_logs)
            if not self.primary:
                run(*args, **kwargs)
            if hook == "on_train_end":
                self.strategy.broadcast_weights(self.model)
        return call

    def _share(self, error: BaseException | None) -> None:
        model, optimizer = self.model, getattr(self.model, "optimizer", None)
        rate = float(optimizer.learning_rate) if optimizer is not None else math.nan
        state = np.array([error is not None, model.stop_training, rate], dtype=np.float64)
        self.strategy.broadcast_small(state)
        if state[0]:
            raise _from_primary(self.strategy.comm, error)
        model.stop_training = bool(state[1])
        if optimizer is not None and not self.primary and rate != state[2]:
            optimizer.learning_rate = float(state[2])


def _from_primary(comm: Any, error: BaseException | None) -> BaseException:
    """Rank 0's exception on rank 0; a copy of it elsewhere, marked with ``faltung_rank = 0``."""
    if comm.rank == 0:
        try:
            payload = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception that cannot travel is described instead
            payload = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
        comm.bcast(payload, root=0)
        return error
    replica = pickle.loads(comm.bcast(None, root=0))
    replica.faltung_rank = 0
    return replica
