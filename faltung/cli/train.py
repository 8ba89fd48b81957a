"""``faltung train``: train a CNN on a dataset, evaluate it on the test split, save it.

Ctrl-C stops after the current batch and saves a checkpoint that ``--resume`` continues.
Under ``mpiexec`` (or with ``--workers N``) it trains data-parallel; see ``faltung.distributed``.
"""
from __future__ import annotations

import os
import signal
import sys
import time

from .. import backend, distributed
from ..callbacks import Callback
from ..distributed import launch
from .arguments import MAX_BATCH_SIZE, MAX_IMAGE_SIZE, IntRange, fraction, positive_int, usage_error
from .data import DATASETS, dataset_name, load
from .paths import check_output_file
from .report import report_dir


# What a run records in its model file (metadata "settings") and ``--resume`` reuses unless the
# command line names a value again; the values here are the defaults of a new run.
SETTINGS = {"dataset": "fashion-mnist", "model": "lenet", "epochs": 10, "batch_size": 128, "optimizer": "adam",
            "validation_split": 0.0, "limit": None, "seed": 0, "image_size": 28, "color_mode": "grayscale"}


def add_commands(commands) -> None:
    p = commands.add_parser("train", help="train a CNN and save it",
                            description="Train a CNN, evaluate it on the test split and save it (with a "
                                        "training-history CSV beside it). Ctrl-C saves a resumable checkpoint; "
                                        "--resume continues it with the settings it was trained with, unless "
                                        "given again here.")
    p.add_argument("--dataset", metavar="NAME|DIR",
                   help=f"one of {', '.join(DATASETS)}, or a folder with one sub-folder per class "
                        "(default: fashion-mnist)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files (else: FALTUNG_DATA, "
                                                    "~/.cache/faltung, the Debian package, a download)")
    p.add_argument("--model", metavar="NAME|CONFIG.json",
                   help="lenet, vgg-small, resnet-small, or a model config JSON file (default: lenet)")
    p.add_argument("--epochs", type=positive_int, help="epochs in all, counting those a resumed model "
                                                       "has done (default: 10)")
    p.add_argument("--batch-size", type=IntRange(1, MAX_BATCH_SIZE), help=f"default: 128, at most {MAX_BATCH_SIZE}")
    p.add_argument("--optimizer", help="adam, sgd, rmsprop, adagrad or adamw (default: adam; with --resume "
                                       "a new optimizer starts with fresh state)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's, Keras')")
    p.add_argument("--validation-split", type=fraction,
                   help="fraction held out to validate on, from 0 up to (not including) 1 (default: 0)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="train on the first N training images only (quick trials)")
    p.add_argument("--seed", type=int, help="random seed for initialisation and shuffling (default: 0)")
    p.add_argument("--image-size", type=IntRange(1, MAX_IMAGE_SIZE),
                   help=f"image side for a DIR dataset (default: 28, at most {MAX_IMAGE_SIZE})")
    p.add_argument("--color-mode", choices=("grayscale", "rgb"),
                   help="channels for a DIR dataset (default: grayscale)")
    p.add_argument("--out", default=None, type=usage_error(_model_file), metavar="FILE",
                   help="where to save the model, in an existing folder (default: <model>-<dataset>.faltung, "
                        "or the --resume file)")
    p.add_argument("--resume", default=None, metavar="PATH", help="continue training a saved model")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="progress display (default: 1)")
    p.add_argument("--report", default=None, metavar="DIR", type=report_dir,
                   help="also write pictures of the trained model and an index.html into DIR (needs matplotlib)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="train data-parallel in N processes: starts mpiexec -n N with this command (needs "
                        "faltung[mpi]); --batch-size stays the global batch. Under mpiexec it is not needed")
    p.add_argument("--hostfile", metavar="FILE",
                   help="with --workers: the machines to start the processes on, passed to mpiexec -hostfile")
    p.set_defaults(run=run, setting_types={a.dest: a.type for a in p._actions if a.dest in SETTINGS})


def _model_file(text: str) -> str:
    return check_output_file(text, "the model file")


def _output_paths(args) -> tuple[str, str]:
    """The model file and the history CSV beside it, checked now: a save that fails after training loses
    the trained model."""
    out = args.out or args.resume or \
        f"{os.path.splitext(os.path.basename(args.model))[0]}-{dataset_name(args.dataset)}.faltung"
    history_csv = os.path.splitext(out)[0] + ".history.csv"
    check_output_file(out, "the model file")
    check_output_file(history_csv, "the history CSV")
    return out, history_csv


class Interrupted(Exception):
    """Ctrl-C reached a batch boundary: leave ``fit`` without ending the epoch in progress."""


class ResumePoint(Callback):
    """Keeps what a checkpoint needs to continue exactly as an uninterrupted run would.

    At each epoch's start it copies the weights, the optimizer state and the random
    generator's state (which the epoch's shuffle and dropout will draw from). Ctrl-C
    leaves ``fit`` at the next batch boundary, and ``rewind`` puts that copy back: the
    checkpoint then holds the start of the interrupted epoch, and a resumed run replays
    that epoch with the same order, the same dropout masks and the same step count.
    """

    def __init__(self):
        super().__init__()
        self.interrupted = False  # set by Ctrl-C
        self._start = None

    def _check(self):
        if self.interrupted:
            raise Interrupted

    def on_train_begin(self, logs=None):
        self.model.metadata["rng_state"] = backend.rng().bit_generator.state
        self._check()  # Ctrl-C came while fit() prepared the data

    def on_epoch_begin(self, epoch, logs=None):
        self._check()  # Ctrl-C came during the last epoch's validation: that epoch is complete
        model = self.model
        self._start = ([w.data.copy() for w in model.weights],
                       model.optimizer.get_state(model.trainable_weights), backend.rng().bit_generator.state)

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self.model.metadata["epochs_trained"] = epoch + 1
        self.model.metadata["rng_state"] = backend.rng().bit_generator.state  # the next epoch starts here
        self._start = None  # complete: a Ctrl-C before the next epoch begins has nothing to roll back

    def rewind(self):
        """Back to the start of the interrupted epoch (a no-op if it never began)."""
        if self._start is None:
            return
        weights, optimizer_state, rng_state = self._start
        for w, value in zip(self.model.weights, weights):
            w.data[...] = value
        self.model.optimizer.set_state(self.model.trainable_weights, optimizer_state)
        self.model.metadata["rng_state"] = rng_state


def _settings(args, model) -> dict:
    """The run's settings: the command line's, else (resuming) the model file's, else the defaults.

    A recorded value passes the same checks as one typed on the command line.
    """
    recorded = model.metadata.get("settings") if model is not None else None
    recorded = recorded if isinstance(recorded, dict) else {}
    if model is not None and args.model is not None:
        raise ValueError(f"--model and --resume together: {args.resume} already holds its model")
    settings = {}
    for key, default in SETTINGS.items():
        value = getattr(args, key)
        if value is None and recorded.get(key) is not None:
            check = args.setting_types.get(key)
            try:
                value = check(str(recorded[key])) if check else recorded[key]
            except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
                raise ValueError(f"{args.resume}: recorded setting {key}={recorded[key]!r} is invalid ({err})") \
                    from None
        settings[key] = default if value is None else value
    if os.path.isdir(settings["dataset"]):  # a folder dataset resumes from any working directory
        settings["dataset"] = os.path.abspath(settings["dataset"])
    return settings


def _restore_rng(path: str, state) -> None:
    try:
        backend.rng().bit_generator.state = state
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: the recorded random generator state is invalid ({err})") from None


def _join_or_start_job(args) -> int | None:
    """Under mpiexec: join its job (rank 0 alone prints). With ``--workers N``: start that job with this
    command and return its exit status. Else None: train in this process."""
    if args.hostfile and not args.workers:
        raise ValueError("--hostfile needs --workers N: how many processes to start on its machines")
    if launch.under_mpi():
        try:
            distributed.init()
        except ImportError as err:  # a missing extra is a one-line error, like any other of the command
            raise RuntimeError(str(err)) from None
        if args.workers not in (None, distributed.size()):
            raise ValueError(f"--workers {args.workers} asks for {args.workers} processes, but mpiexec started "
                             f"{distributed.size()}; give one or the other")
        if not distributed.is_primary():
            sys.stdout = open(os.devnull, "w")  # one progress display and one result line: rank 0's
        return None
    if args.workers and (args.workers > 1 or args.hostfile):
        return launch.run_workers(args.workers, args.argv, args.hostfile)
    return None


def run(args) -> int:
    from .. import callbacks, models, zoo

    status = _join_or_start_job(args)
    if status is not None:
        return status
    model = None
    if args.resume:
        model = models.load_model(args.resume)
        if not model.compiled:
            raise ValueError(f"{args.resume}: saved without its optimizer, so it cannot resume training")
    new_optimizer = args.optimizer if model is not None else None
    vars(args).update(_settings(args, model))
    start_epoch = model.metadata.get("epochs_trained", 0) if model is not None else 0
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 0:
        raise ValueError(f"{args.resume}: recorded epochs_trained {start_epoch!r} is not a count of epochs")
    if start_epoch >= args.epochs:
        raise ValueError(f"{args.resume} has trained {start_epoch} of {args.epochs} epochs already; "
                         f"ask for more with --epochs N (N > {start_epoch})")
    out, history_csv = _output_paths(args)
    backend.set_seed(args.seed)
    # a config file needs no data to build: an absurd or broken one fails before minutes of loading
    prebuilt = None if model is not None or args.model in zoo.ARCHITECTURES else zoo.build(args.model, None, None)
    data = load(args.dataset, args.data_dir, args.image_size, args.color_mode, args.seed)
    if args.limit:
        data.x_train, data.y_train = data.x_train[:args.limit], data.y_train[:args.limit]
    if model is None:
        model = prebuilt or zoo.build(args.model, data.x_train.shape[1:], len(data.class_names))
        model.compile(optimizer=args.optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.metadata.update(dataset=data.name, class_names=data.class_names, model=args.model)
    else:
        if new_optimizer is not None:  # the user asked for another optimizer: it starts with fresh state
            model.compile(optimizer=new_optimizer, loss=model.loss, metrics=["accuracy"])
        if model.metadata.get("rng_state") is not None:  # where the interrupted epoch's shuffle starts
            _restore_rng(args.resume, model.metadata["rng_state"])
    if args.lr is not None:
        model.optimizer.learning_rate = args.lr
    model.metadata["settings"] = {key: getattr(args, key) for key in SETTINGS}
    model.metadata["epochs_trained"] = start_epoch  # a checkpoint saved before any epoch ends says 0
    resume_point = ResumePoint()
    csv_logger = callbacks.CSVLogger(history_csv, append=bool(args.resume))

    def stop_softly(signum, frame):
        if resume_point.interrupted:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        resume_point.interrupted = True
        if distributed.is_primary():  # mpiexec passes Ctrl-C to every rank: say it once
            print("\nfaltung: stopping after this batch (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, stop_softly)
    began = time.perf_counter()
    try:
        try:
            model.fit(data.x_train, data.y_train, batch_size=args.batch_size, epochs=args.epochs,
                      initial_epoch=start_epoch, validation_split=args.validation_split, verbose=args.verbose,
                      callbacks=[resume_point, csv_logger])
        except Interrupted:
            resume_point.interrupted = True  # data-parallel: every rank stops here, with or without its own Ctrl-C
            resume_point.rewind()
            csv_logger.on_train_end()  # the CSV holds the complete epochs only
        seconds = time.perf_counter() - began
        model.save(out)  # a Ctrl-C now only marks the run interrupted: the save completes
    finally:
        signal.signal(signal.SIGINT, previous)
    done = model.metadata.get("epochs_trained", 0)
    if resume_point.interrupted and done < args.epochs:
        print(f"interrupted: checkpoint after {done} complete {_epochs(done)} saved to {out}; "
              f"continue with: faltung train --resume {out}")
        return 130
    if resume_point.interrupted:
        print(f"interrupted after the last epoch: the trained model is saved to {out} (not evaluated)")
        return 130
    loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=max(args.batch_size, 256), verbose=0)
    if args.report and distributed.is_primary():
        from .report import write_training_report
        with distributed.local():  # the pictures' predictions: rank 0 alone
            print(f"report: {write_training_report(args, model, data, history_csv, out, loss, accuracy, seconds)}")
    print(f"test accuracy {accuracy:.4f} - test loss {loss:.4f} - {seconds:.1f} s training "
          f"({done - start_epoch} {_epochs(done - start_epoch)}) - saved {out} and {history_csv}")
    return 0


def _epochs(n: int) -> str:
    return "epoch" if n == 1 else "epochs"
