"""faltung.distributed: data-parallel training over MPI equals one process; faults end the job;
Ctrl-C and --resume work across rank counts. The MPI tests run ``mpiexec -n 2`` and skip cleanly
where mpi4py or mpiexec is missing."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from faltung import distributed
from faltung.cli import main
from faltung.distributed import launch
from faltung.models import load_model

HERE = os.path.dirname(os.path.abspath(__file__))
# 301 images, 10 % held out: 270 to train on in batches of 32, the last one 14 (7 per rank);
# 31 to validate on in one batch (15 and 16 per rank)
RUN = ["--dataset", "shapes", "--limit", "301", "--batch-size", "32", "--validation-split", "0.1", "--seed", "1",
       "--verbose", "0"]


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
        return launch.find_mpiexec()
    except (ImportError, RuntimeError) as err:
        return pytest.skip(f"MPI is not installed ({err}): pip install 'faltung[mpi]'")


def run(command, timeout=120, **kwargs):
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    return done, time.perf_counter() - began


def faltung(*args):
    return [sys.executable, "-m", "faltung", *args]


def assert_same_weights(path, reference):
    """Equal up to float32 summation order: the ranks add the gradient's terms in another order."""
    ours, theirs = load_model(path), load_model(reference)
    assert ours.optimizer.iterations == theirs.optimizer.iterations
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def history(path):
    with open(os.path.splitext(path)[0] + ".history.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


# ----- without MPI -----

def test_import_faltung_stays_numpy_only():
    code = "import sys, faltung, faltung.distributed; print('mpi4py' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_before_init_a_process_is_a_job_of_one():
    assert (distributed.rank(), distributed.size(), distributed.is_primary()) == (0, 1, True)
    distributed.barrier()  # nothing to wait for
    assert distributed.strategy().size == 1
    assert distributed.current_shard() is None


def test_local_makes_a_rank_work_alone(monkeypatch):
    from faltung.distributed.data_parallel import SINGLE_PROCESS
    job = object()  # stands for the DataParallel strategy of a job of several ranks
    monkeypatch.setattr(distributed, "_data_parallel", job)
    assert distributed.strategy() is job
    with distributed.local():
        with distributed.local():
            assert distributed.strategy() is SINGLE_PROCESS
        assert distributed.strategy() is SINGLE_PROCESS
    assert distributed.strategy() is job


class Collective:
    """Stands for the other rank of a job of two: its contribution is added to every sum."""

    def __init__(self, other=None):
        self.other, self.sent = other, None

    def sum_small(self, values):
        self.sent = values.copy()
        return values if self.other is None else values + self.other


def test_shards_split_a_batch_and_a_rank_without_samples_computes_a_placeholder():
    from faltung.distributed.data_parallel import Shard
    shard = Shard(None, 3, 7, total=13)
    assert (shard.size, shard.first_row, shard.rows, shard.share) == (4, 3, 4, 4 / 13)
    assert shard.count(4 * 25) == 13 * 25  # 25 values per sample and channel, over the global batch
    empty = Shard(None, 0, 0, total=1)  # a last batch of one sample, and this rank got none of it
    assert (empty.size, empty.first_row, empty.rows, empty.share) == (0, 0, 1, 0.0)
    with distributed.working_on(shard):
        drawn = distributed.draw_per_sample(lambda n: np.arange(n * 2).reshape(n, 2), 4)
        assert drawn.tolist() == np.arange(26).reshape(13, 2)[3:7].tolist()  # the global batch's rows 3..6
        assert distributed.draw_per_sample(lambda n: np.zeros(n), 5).shape == (5,)  # not the batch: as asked
    assert distributed.current_shard() is None


def test_batch_norm_moments_of_two_shards_are_those_of_the_whole_batch():
    from faltung.distributed.data_parallel import Shard
    batch = np.random.default_rng(0).normal(3.0, 2.0, (9, 5, 5, 4)).astype(np.float32)
    axes = (0, 1, 2)
    second = Collective()
    Shard(second, 4, 9, total=9).moments(batch[4:], axes)  # what the other rank sends
    mean, var = Shard(Collective(second.sent), 0, 4, total=9).moments(batch[:4], axes)
    np.testing.assert_allclose(mean, batch.mean(axis=axes), rtol=1e-6)
    np.testing.assert_allclose(var, batch.var(axis=axes), rtol=1e-5)
    # a placeholder sample contributes nothing: one rank's shard is the whole batch
    placeholder = Collective()
    Shard(placeholder, 0, 0, total=9).moments(batch[:1], axes)
    assert not placeholder.sent.any()


def test_the_launchers_are_recognised_by_their_variables():
    assert not launch.under_mpi({"PATH": "/bin"})
    assert launch.under_mpi({"PMI_RANK": "0", "PMI_SIZE": "2"})        # MPICH's Hydra
    assert launch.under_mpi({"OMPI_COMM_WORLD_SIZE": "4"})             # Open MPI
    assert launch.under_mpi({"PMIX_RANK": "3"})                        # srun --mpi=pmix


def test_workers_run_the_same_command_under_mpiexec(monkeypatch):
    monkeypatch.setattr(launch, "find_mpiexec", lambda: "/opt/mpi/bin/mpiexec")
    command = launch.mpiexec_command(4, ["train", "--workers", "4"], hostfile="hosts")
    assert command == ["/opt/mpi/bin/mpiexec", "-n", "4", "-hostfile", "hosts", sys.executable, "-m", "faltung",
                       "train", "--workers", "4"]
    cores = os.cpu_count() or 1
    env = launch.worker_environment(2, None, {"OPENBLAS_NUM_THREADS": "3"})
    assert env["FALTUNG_NUM_THREADS"] == str(max(1, cores // 2)) and env["OPENBLAS_NUM_THREADS"] == "3"
    assert "FALTUNG_NUM_THREADS" not in launch.worker_environment(2, "hosts", {})  # other machines' cores


def test_hostfile_needs_workers(capsys):
    assert main(["train", *RUN, "--hostfile", "hosts"]) == 1
    assert "--hostfile needs --workers N" in capsys.readouterr().err


def test_init_outside_mpiexec_trains_alone(tmp_path):
    pytest.importorskip("mpi4py")
    code = ("from faltung import distributed; distributed.init(); distributed.init(); "
            "print(distributed.size(), distributed.rank(), type(distributed.strategy()).__name__)")
    done, _ = run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0", "SingleProcess"]


# ----- under mpiexec -n 2 -----

def test_two_ranks_equal_one_process_with_batch_norm_dropout_and_augmentation(tmp_path):
    mpiexec = _mpiexec()
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    script = os.path.join(HERE, "mpi_fit.py")
    for command, folder in (([sys.executable, script], one), ([mpiexec, "-n", "2", sys.executable, script], two)):
        done, _ = run([*command, str(folder)])
        assert done.returncode == 0, done.stderr
    reference = json.loads((one / "rank-0.json").read_text())
    ranks = [json.loads((two / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert reference["size"] == 1 and ranks[0]["size"] == 2
    assert ranks[0]["digest"] == ranks[1]["digest"]  # the ranks hold the very same weights
    assert "learning_rate" in reference["history"]  # a callback's addition to the logs, on every rank too
    for ours in ranks:
        assert ours["history"].keys() == reference["history"].keys()
        for key, values in reference["history"].items():  # losses and metrics of the whole batches
            np.testing.assert_allclose(ours["history"][key], values, rtol=1e-5)
        np.testing.assert_allclose(ours["evaluate"], reference["evaluate"], rtol=1e-5)
        assert ours["steps_after_stop"] == reference["steps_after_stop"] == 3  # rank 0's stop reached both
        assert ours["learning_rate"] == reference["learning_rate"] == 0.0005
    expected = np.load(one / "rank-0.npz")
    for r in (0, 1):
        got = np.load(two / f"rank-{r}.npz")
        assert len(got.files) == len(expected.files)
        for key in expected.files:  # predictions in the samples' order, then every weight
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-5)
    # callbacks ran on rank 0 only, and only rank 0 wrote files
    assert reference["epochs_seen"] == ranks[0]["epochs_seen"] == [0, 1] and ranks[1]["epochs_seen"] == []
    assert sorted(p.name for p in two.iterdir() if not p.name.startswith("rank-")) == ["log-0.csv",
                                                                                        "model-0.faltung"]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """`faltung train` in one process, 2 epochs: what every data-parallel run must reproduce."""
    out = str(tmp_path_factory.mktemp("one") / "one.faltung")
    done, _ = run(faltung("train", *RUN, "--epochs", "2", "--out", out))
    assert done.returncode == 0, done.stderr
    return out


def test_faltung_train_workers_2_equals_one_process(one_process, tmp_path):
    _mpiexec()
    out = str(tmp_path / "two.faltung")
    done, _ = run(faltung("train", *RUN, "--epochs", "2", "--out", out, "--workers", "2"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 1  # one result line: rank 0's
    assert_same_weights(out, one_process)
    (names, ours), (their_names, theirs) = history(out), history(one_process)
    assert names == their_names and ours.shape == theirs.shape == (2, 5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_resume_with_another_number_of_ranks(one_process, tmp_path, first, then):
    _mpiexec()
    out = str(tmp_path / "run.faltung")
    workers = lambda n: ["--workers", str(n)] if n > 1 else []  # noqa: E731
    done, _ = run(faltung("train", *RUN, "--epochs", "1", "--out", out, *workers(first)))
    assert done.returncode == 0, done.stderr
    done, _ = run(faltung("train", "--resume", out, "--epochs", "2", *workers(then)))
    assert done.returncode == 0, done.stderr
    assert_same_weights(out, one_process)
    np.testing.assert_allclose(history(out)[1], history(one_process)[1], rtol=1e-5)


def test_ctrl_c_saves_one_checkpoint_that_one_rank_resumes(tmp_path):
    _mpiexec()
    out = str(tmp_path / "run.faltung")
    # a session of its own, signalled as a whole: what a terminal's Ctrl-C does to the command and mpiexec
    process = subprocess.Popen(faltung("train", *RUN, "--epochs", "40", "--out", out, "--workers", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    began = time.perf_counter()
    while not os.path.exists(os.path.splitext(out)[0] + ".history.csv"):  # rank 0 opens it as training begins
        assert process.poll() is None and time.perf_counter() - began < 60
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    printed, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert printed.count("continue with: faltung train --resume") == 1, printed
    assert err.count("stopping after this batch") == 1, err
    done_epochs = load_model(out).metadata["epochs_trained"]
    assert 0 <= done_epochs < 40
    done, _ = run(faltung("train", "--resume", out, "--epochs", str(done_epochs + 1)))
    assert done.returncode == 0, done.stderr
    assert load_model(out).metadata["epochs_trained"] == done_epochs + 1


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    mpiexec = _mpiexec()
    script = tmp_path / "fails.py"
    script.write_text(
        "import numpy as np\n"
        "from faltung import callbacks, distributed, layers, models\n"
        "distributed.init()\n"
        "class Fails(layers.Dense):\n"
        "    calls = 0\n"
        "    def call(self, x, training=False):\n"
        "        Fails.calls += 1\n"
        "        if distributed.rank() == 1 and Fails.calls == 3:\n"
        "            raise ValueError('rank one is out of memory')\n"
        "        return super().call(x, training)\n"
        "model = models.Sequential([layers.Input((4,)), Fails(2)])\n"
        "model.compile('sgd', 'mse')\n"
        "model.fit(np.ones((64, 4)), np.ones((64, 2)), batch_size=8, epochs=100, verbose=0)\n")
    done, seconds = run([mpiexec, "-n", "2", sys.executable, str(script)], timeout=60)
    assert done.returncode != 0
    assert seconds < 30
    assert "rank 1 of 2 raised ValueError: rank one is out of memory" in done.stderr
