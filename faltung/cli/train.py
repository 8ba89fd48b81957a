"""``faltung train``: train a CNN on a dataset, evaluate it on the test split, save it.

Ctrl-C stops after the current batch and saves a checkpoint that ``--resume`` continues.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ..callbacks import Callback
from .data import DATASETS, load
from .report import report_dir


def add_commands(commands) -> None:
    p = commands.add_parser("train", help="train a CNN and save it",
                            description="Train a CNN, evaluate it on the test split and save it (with a "
                                        "training-history CSV beside it). Ctrl-C saves a resumable checkpoint.")
    p.add_argument("--dataset", default="fashion-mnist", metavar="NAME|DIR",
                   help=f"one of {', '.join(DATASETS)}, or a folder with one sub-folder per class "
                        "(default: fashion-mnist)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files (else: FALTUNG_DATA, "
                                                    "~/.cache/faltung, the Debian package, a download)")
    p.add_argument("--model", default="lenet", metavar="NAME|CONFIG.json",
                   help="lenet, vgg-small, resnet-small, or a model config JSON file (default: lenet)")
    p.add_argument("--epochs", type=_positive_int, default=10, help="epochs to train (default: 10)")
    p.add_argument("--batch-size", type=_positive_int, default=128, help="default: 128")
    p.add_argument("--optimizer", default="adam", help="adam, sgd, rmsprop, adagrad or adamw (default: adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's, Keras')")
    p.add_argument("--validation-split", type=float, default=0.0, help="fraction held out to validate on")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick trials)")
    p.add_argument("--seed", type=int, default=0, help="random seed for initialisation and shuffling")
    p.add_argument("--image-size", type=_positive_int, default=28, help="image side for a DIR dataset")
    p.add_argument("--color-mode", choices=("grayscale", "rgb"), default="grayscale",
                   help="channels for a DIR dataset")
    p.add_argument("--out", default=None, help="where to save the model (default: <model>-<dataset>.faltung)")
    p.add_argument("--resume", default=None, metavar="PATH", help="continue training a saved model")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="progress display (default: 1)")
    p.add_argument("--report", default=None, metavar="DIR", type=report_dir,
                   help="also write pictures of the trained model and an index.html into DIR (needs matplotlib)")
    p.set_defaults(run=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


class EpochCounter(Callback):
    """Keeps ``model.metadata['epochs_trained']`` so a checkpoint knows where to resume."""

    interrupted = False  # set by Ctrl-C: the epoch in progress is not complete

    def on_train_begin(self, logs=None):
        if self.interrupted:  # Ctrl-C came while the data was being prepared: fit() reset the flag
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if not self.interrupted:
            self.model.metadata["epochs_trained"] = epoch + 1


def run(args) -> int:
    from .. import backend, callbacks, models, optimizers, zoo

    backend.set_seed(args.seed)
    # a config file needs no data to build: an absurd or broken one fails before minutes of loading
    prebuilt = None if args.resume or args.model in zoo.ARCHITECTURES else zoo.build(args.model, None, None)
    data = load(args.dataset, args.data_dir, args.image_size, args.color_mode, args.seed)
    if args.limit:
        data.x_train, data.y_train = data.x_train[:args.limit], data.y_train[:args.limit]
    if args.resume:
        model = models.load_model(args.resume)
        if not model.compiled:
            raise ValueError(f"{args.resume}: saved without its optimizer, so it cannot resume training")
        if args.lr is not None:
            model.optimizer.learning_rate = args.lr
    else:
        model = prebuilt or zoo.build(args.model, data.x_train.shape[1:], len(data.class_names))
        optimizer = optimizers.get(args.optimizer)
        if args.lr is not None:
            optimizer.learning_rate = args.lr
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.metadata.update(dataset=data.name, class_names=data.class_names, model=args.model)
    out = args.out or args.resume or f"{os.path.splitext(os.path.basename(args.model))[0]}-{data.name}.faltung"
    history_csv = os.path.splitext(out)[0] + ".history.csv"
    start_epoch = int(model.metadata.get("epochs_trained", 0))
    counter = EpochCounter()

    def stop_softly(signum, frame):
        if counter.interrupted:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        counter.interrupted = True
        model.stop_training = True
        print("\nfaltung: stopping after this batch (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, stop_softly)
    began = time.perf_counter()
    try:
        model.fit(data.x_train, data.y_train, batch_size=args.batch_size, epochs=args.epochs,
                  initial_epoch=start_epoch, validation_split=args.validation_split, verbose=args.verbose,
                  callbacks=[counter, callbacks.CSVLogger(history_csv, append=bool(args.resume))])
    finally:
        signal.signal(signal.SIGINT, previous)
    seconds = time.perf_counter() - began
    model.save(out)
    if counter.interrupted:
        done = model.metadata.get("epochs_trained", 0)
        print(f"interrupted: checkpoint after {done} complete epochs saved to {out}; "
              f"continue with: faltung train --resume {out} --epochs {args.epochs}")
        return 130
    loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=max(args.batch_size, 256), verbose=0)
    if args.report:
        from .report import write_training_report
        print(f"report: {write_training_report(args, model, data, history_csv, out, loss, accuracy, seconds)}")
    print(f"test accuracy {accuracy:.4f} - test loss {loss:.4f} - {seconds:.1f} s training "
          f"({args.epochs - start_epoch} epochs) - saved {out} and {history_csv}")
    return 0
