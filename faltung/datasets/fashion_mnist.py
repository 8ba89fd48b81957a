"""Fashion-MNIST (Zalando), like ``keras.datasets.fashion_mnist``: 60,000 + 10,000 images of 28×28, uint8.

Files are searched in ``path=``, ``$FALTUNG_DATA/fashion-mnist``, ``$FALTUNG_DATA``,
``~/.cache/faltung/fashion-mnist`` and the Debian package's folder
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``), else
downloaded to the cache from Zalando's server.
"""
from __future__ import annotations

import os

from . import idx_dataset

NAME = "fashion-mnist"
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# SHA-256 of the four .gz files as served at URL; their MD5s are the ones Zalando's README
# publishes. Debian's copies are not byte-identical .gz files (recompressed headers: no file
# name, reset timestamp), but inflate to the same IDX bytes, whose SHA-256 are CONTENT_SHA256.
SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
CONTENT_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SYSTEM_FOLDERS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)
APT_PACKAGE = "dataset-fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def load_data(path: str | os.PathLike | None = None, *, base_url: str | None = None, download: bool = True,
              verbose: int = 1) -> idx_dataset.Arrays:
    """``((x_train, y_train), (x_test, y_test))``: x uint8 ``(N, 28, 28)``, y uint8 ``(N,)`` in 0..9
    (``CLASS_NAMES[y]`` names the class).

    ``path``: a folder holding the four IDX files (raw or .gz), searched first. ``base_url``
    (or ``$FALTUNG_DATA_URL/fashion-mnist/``) replaces the download server; ``download=False``
    never touches the network. Raises ``DatasetNotFoundError`` (a ``FileNotFoundError``)
    listing the folders searched when the files are nowhere and cannot be downloaded.

    >>> (x_train, y_train), (x_test, y_test) = load_data()   # doctest: +SKIP
    >>> x_train.shape, CLASS_NAMES[y_train[0]]  # doctest: +SKIP
    ((60000, 28, 28), 'Ankle boot')
    """
    return idx_dataset.load(name=NAME, title="Fashion-MNIST", url=URL, sha256=SHA256, path=path,
                            base_url=base_url, download=download, verbose=verbose,
                            system_folders=SYSTEM_FOLDERS, apt_package=APT_PACKAGE)
