"""``image_dataset_from_directory`` like Keras', returning NumPy batches instead of a ``tf.data.Dataset``.

``directory/<class>/.../<image>`` becomes batches ``(x, y)``: x float32 ``(N, h, w, C)`` with
values 0..255, y as ``label_mode`` says. Files are listed and split exactly as Keras does
(sorted, shuffled with ``np.random.RandomState(seed)``, the last ``validation_split`` fraction
for validation), so the same seed puts the same files in each subset. Images are decoded by
``decode.decode_image`` with Pillow (the optional extra ``images``), imported only when this
function is called.
"""
from __future__ import annotations

import importlib
import os
from typing import Iterator, Sequence

import numpy as np

from .. import backend
from .decode import COLOR_MODES, decode_image
from .resize import check_interpolation, crop_to_aspect_ratio, resize

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
LABEL_MODES = ("int", "categorical", "binary", None)


class ImageDataset:
    """Batches of images read from files on each pass: ``for x, y in dataset``.

    ``len(dataset)`` is the number of batches; ``dataset.numpy()`` reads everything at once and
    returns ``(x, y)`` (or just ``x`` when there are no labels); ``class_names`` and
    ``file_paths`` are as in Keras.
    """

    def __init__(self, file_paths: list[str], labels: np.ndarray | None, class_names: list[str] | None,
                 label_mode: str | None, color_mode: str, image_size: tuple[int, int], batch_size: int | None,
                 interpolation: str, crop_to_aspect_ratio: bool):
        self.file_paths = file_paths
        self.class_names = class_names
        self.label_mode = label_mode
        self.color_mode = color_mode
        self.image_size = image_size
        self.batch_size = batch_size
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self._labels = labels

    @property
    def labels(self) -> np.ndarray | None:
        """All labels, encoded as ``label_mode`` says: int32 ``(N,)``, float32 one-hot ``(N, K)``,
        float32 ``(N, 1)`` for "binary", or None."""
        return None if self._labels is None else self._encode(self._labels)

    def _encode(self, labels: np.ndarray) -> np.ndarray:
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        if self.label_mode == "binary":
            return labels.astype(np.float32)[:, None]
        return labels.astype(np.int32)

    def __len__(self) -> int:
        n = len(self.file_paths)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def load_image(self, path: str) -> np.ndarray:
        """One image, decoded, converted to ``color_mode`` and resized: float32 ``(h, w, C)``."""
        image = decode_image(path, self.color_mode)
        if self.crop_to_aspect_ratio:
            image = crop_to_aspect_ratio(image, self.image_size)
        return resize(image, self.image_size, self.interpolation)

    def _images(self, paths: Sequence[str]) -> np.ndarray:
        channels = COLOR_MODES[self.color_mode][1]
        x = np.empty((len(paths), *self.image_size, channels), dtype=np.float32)
        for i, path in enumerate(paths):
            x[i] = self.load_image(path)
        return x

    def __iter__(self) -> Iterator:
        step = self.batch_size or 1
        for start in range(0, len(self.file_paths), step):
            x = self._images(self.file_paths[start:start + step])
            y = None if self._labels is None else self._encode(self._labels[start:start + step])
            if self.batch_size is None:
                x, y = x[0], (None if y is None else y[0])
            yield x if y is None else (x, y)

    def numpy(self):
        """Every image and label at once: ``(x, y)``, or ``x`` when there are no labels."""
        x = self._images(self.file_paths)
        return x if self._labels is None else (x, self.labels)

    def __repr__(self) -> str:
        h, w = self.image_size
        return (f"ImageDataset({len(self.file_paths)} files, {len(self)} batches of {self.batch_size}, "
                f"images ({h}, {w}, {COLOR_MODES[self.color_mode][1]}), classes {self.class_names})")


def _index(directory: str, labels, class_names, follow_links: bool):
    """Keras' ``index_directory`` without the shuffle: (relative paths, int labels or None, class names)."""
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory)
                         if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"class_names {list(class_names)} do not match the subfolders of {directory!r}: "
                                 f"expected {subdirs} (or a subset of it)")
            subdirs = list(class_names)  # keep the caller's order
    else:
        subdirs = [""]
    paths, indices = [], []
    for index, subdir in enumerate(subdirs):
        root_dir = os.path.join(directory, subdir)
        walk = sorted(os.walk(root_dir, followlinks=follow_links), key=lambda entry: entry[0])
        for root, _, files in walk:
            for name in sorted(files):
                if name.lower().endswith(ALLOWLIST_FORMATS):
                    paths.append(os.path.join(root, name))
                    indices.append(index)
    if labels == "inferred":
        return paths, np.asarray(indices, dtype=np.int32), list(subdirs)
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(f"labels has {len(labels)} entries but {len(paths)} image files were found in "
                         f"{directory!r}; give one label per file, in sorted path order")
    return paths, np.asarray(labels, dtype=np.int32), [str(v) for v in sorted(set(labels))]


def _split(n: int, validation_split: float | None, subset: str) -> slice:
    if not validation_split:
        return slice(0, n)
    n_val = int(validation_split * n)
    if subset == "training":
        return slice(0, n - n_val)
    return slice(n - n_val, n)


def image_dataset_from_directory(directory: str | os.PathLike, labels="inferred", label_mode: str | None = "int",
                                 class_names: Sequence[str] | None = None, color_mode: str = "rgb",
                                 batch_size: int | None = 32, image_size: tuple[int, int] = (256, 256),
                                 shuffle: bool = True, seed: int | None = None,
                                 validation_split: float | None = None, subset: str | None = None,
                                 interpolation: str = "bilinear", follow_links: bool = False,
                                 crop_to_aspect_ratio: bool = False, verbose: bool = True):
    """Images from ``directory/<class_name>/...`` as batches ``(x, y)``, like Keras.

    x: float32 ``(batch, height, width, C)``, values 0..255, C = 3 ("rgb"), 4 ("rgba") or 1
    ("grayscale"). y: int32 ``(batch,)`` for ``label_mode="int"``, float32 one-hot
    ``(batch, K)`` for "categorical", float32 ``(batch, 1)`` for "binary" (two classes).
    ``labels`` is "inferred" (from the subfolders, alphabetical or ``class_names`` order), None,
    or one int per file in sorted path order. ``subset`` "training" / "validation" (with
    ``validation_split`` and, when shuffling, a ``seed``) picks Keras' split; "both" returns
    ``[training, validation]``. The order of the files is shuffled once (seeded); each pass
    over the dataset reads them in that order.

    >>> train, val = image_dataset_from_directory("photos", image_size=(64, 64), seed=1,
    ...                                           validation_split=0.2, subset="both")  # doctest: +SKIP
    >>> x, y = train.numpy()  # doctest: +SKIP
    """
    directory = os.fspath(directory)
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(f"labels must be 'inferred', None, or a list/tuple of ints; got {labels!r}")
        if class_names is not None:
            raise ValueError("class_names cannot be given with explicit labels "
                             "(the class names are then the sorted list of labels)")
    if labels is None and class_names is not None:
        raise ValueError("class_names cannot be given with labels=None (no labels)")
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {list(LABEL_MODES)}; got {label_mode!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {list(COLOR_MODES)}; got {color_mode!r}")
    interpolation = check_interpolation(interpolation)
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(n, (int, np.integer)) and n > 0 for n in image_size)):
        raise ValueError(f"image_size must be (height, width) of positive ints; got {image_size!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}")
    if validation_split is not None and not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1; got {validation_split!r}")
    if bool(validation_split) != bool(subset):
        raise ValueError(f"subset and validation_split go together: set both or neither "
                         f"(got subset={subset!r}, validation_split={validation_split!r})")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"subset must be 'training', 'validation' or 'both'; got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("with validation_split and shuffle=True, give a seed: both subsets must shuffle the "
                         "same way so that they do not overlap")
    if not os.path.isdir(directory):
        what = "is not a folder" if os.path.exists(directory) else "does not exist"
        raise FileNotFoundError(f"image_dataset_from_directory: {directory!r} {what}")
    try:
        importlib.import_module("PIL.Image")
    except ImportError:
        raise ImportError("image_dataset_from_directory needs Pillow to decode images: "
                          "pip install 'faltung[images]' (or pip install pillow)") from None

    paths, label_ids, names = _index(directory, labels, class_names, follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes; found {len(names)}: {names}")
    if verbose:
        found = f"Found {len(paths)} files" + ("" if names is None else f" belonging to {len(names)} classes")
        print(found + ".")
    if shuffle:
        if seed is None:
            seed = int(backend.rng().integers(1_000_000))  # repeatable under ft.set_seed
        # Keras shuffles the paths and the labels with two RandomStates of one seed: the same permutation
        np.random.RandomState(seed).shuffle(paths)
        if label_ids is not None:
            np.random.RandomState(seed).shuffle(label_ids)

    def make(part: str | None) -> ImageDataset:
        s = _split(len(paths), validation_split, part)
        if s.stop - s.start == 0:
            reason = "" if not paths else f" for the {part} subset (validation_split={validation_split})"
            raise ValueError(f"No images found in directory {directory!r}{reason}. "
                             f"Allowed formats: {ALLOWLIST_FORMATS}")
        if verbose and validation_split:
            print(f"Using {s.stop - s.start} files for {part}.")
        return ImageDataset(paths[s], None if label_ids is None else label_ids[s], names, label_mode,
                            color_mode, tuple(int(n) for n in image_size), batch_size, interpolation,
                            crop_to_aspect_ratio)

    if subset == "both":
        return [make("training"), make("validation")]
    return make(subset)
