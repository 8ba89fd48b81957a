"""MNIST handwritten digits, like ``keras.datasets.mnist``: 60,000 + 10,000 images of 28×28, uint8.

Files are searched in ``path=``, ``$FALTUNG_DATA/mnist``, ``$FALTUNG_DATA`` and
``~/.cache/faltung/mnist``, else downloaded there from Keras' mirror of LeCun's files.
"""
from __future__ import annotations

import os

from . import idx_dataset

NAME = "mnist"
URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
# SHA-256 of the four .gz files (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes), the same
# bytes as LeCun's originals; pinned alike by several independent loaders of this mirror.
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
SYSTEM_FOLDERS: tuple[str, ...] = ()  # no distribution packages MNIST
CLASS_NAMES = [str(digit) for digit in range(10)]


def load_data(path: str | os.PathLike | None = None, *, base_url: str | None = None, download: bool = True,
              verbose: int = 1) -> idx_dataset.Arrays:
    """``((x_train, y_train), (x_test, y_test))``: x uint8 ``(N, 28, 28)``, y uint8 ``(N,)`` in 0..9.

    ``path``: a folder holding the four IDX files (raw or .gz), searched first. ``base_url``
    (or ``$FALTUNG_DATA_URL/mnist/``) replaces the download mirror; ``download=False`` never
    touches the network. Raises ``DatasetNotFoundError`` (a ``FileNotFoundError``) listing the
    folders searched when the files are nowhere and cannot be downloaded.

    >>> (x_train, y_train), (x_test, y_test) = load_data()   # doctest: +SKIP
    >>> x_train.shape, y_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000,))
    """
    return idx_dataset.load(name=NAME, title="MNIST", url=URL, sha256=SHA256, path=path, base_url=base_url,
                            download=download, verbose=verbose, system_folders=SYSTEM_FOLDERS)
