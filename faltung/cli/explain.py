"""``faltung explain``: one static HTML page showing every number a saved model computes for one image
(or, with ``--lecture``, the lecture's worked examples), written to ``DIR/index.html``."""
from __future__ import annotations

import os
import time

from .arguments import MAX_PANELS, IntRange
from .paths import check_output_folder


def add_commands(commands) -> None:
    p = commands.add_parser(
        "explain", help="an HTML page with every number a model computes for one image",
        description="Write DIR/index.html: a self-contained page (open it from disk; no server, no network) with "
                    "each layer's maps, every conv cell written out as the lecture's sum x·f + b, pooling "
                    "windows, the largest terms of Dense units, the class probabilities, Grad-CAM and the "
                    "input gradient. Without IMAGE: a test image of the model's dataset.")
    p.add_argument("model", nargs="?", default=None, help="a saved .faltung model (not with --lecture)")
    p.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                   help="PNG/JPEG (Pillow) or .npy of the model's input shape (default: test image --index)")
    p.add_argument("--index", type=int, default=0, help="which test image, without IMAGE (default: 0)")
    p.add_argument("--dataset", default=None, metavar="NAME|DIR",
                   help="dataset whose test split to use (default: the one the model was trained on)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--invert", action="store_true", help="invert grey levels of an image file")
    p.add_argument("--class", dest="class_", default=None, metavar="NAME|INDEX",
                   help="the class for Grad-CAM and the input gradient (default: the predicted one)")
    p.add_argument("--layer", default=None, help="Grad-CAM's conv layer (default: the last Conv2D)")
    p.add_argument("--max-maps", type=IntRange(1, MAX_PANELS), default=16, metavar="N",
                   help=f"maps per layer in the overview (default: 16, at most {MAX_PANELS})")
    p.add_argument("--lecture", action="store_true",
                   help="explain the lecture's Example 2 and its 12x12 image with the corner filter instead")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the folder to write index.html into (default: <model>-explain, or lecture-explain)")
    p.set_defaults(run=explain, parser=p)


def _class_index(text: str | None, names: list[str] | None, count: int) -> int | None:
    if text is None:
        return None
    if names and text in names:
        return names.index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < count:
        return int(text)
    known = f" or one of {', '.join(names)}" if names else ""
    raise ValueError(f"--class must be a class index 0..{count - 1}{known}; got {text!r}")


def explain(args) -> int:
    from ..explain import explain_lecture, explain_model
    if args.lecture:
        if args.model or args.image:
            args.parser.error("--lecture takes no MODEL or IMAGE")
        started = time.perf_counter()
        path = explain_lecture(check_output_folder(args.out or "lecture-explain", "--out"))
        return _report(path, started)
    if args.model is None:
        args.parser.error("give a saved MODEL (or --lecture)")
    from .show import load_saved_model, stem, held_out_split
    started = time.perf_counter()
    out = check_output_folder(args.out or f"{stem(args.model)}-explain", "--out")  # before any loading
    model = load_saved_model(args.model)
    names = model.metadata.get("class_names")
    if args.image is not None:
        from .inspect import read_image
        image = read_image(args.image, tuple(model.input_shape[1:]))
        if args.invert:
            image = 255 - image
        source = os.path.basename(args.image)
    else:
        x_test, y_test, names = held_out_split(args, model)
        if not 0 <= args.index < len(x_test):
            raise ValueError(f"--index must be within the {len(x_test)} test images; got {args.index}")
        image = x_test[args.index]
        label = int(y_test[args.index])
        truth = names[label] if names and label < len(names) else str(label)
        source = f"test image {args.index} of {args.dataset or model.metadata.get('dataset')} (true class: {truth})"
    count = int(model.output_shape[-1]) if model.output_shape else 0
    if names and len(names) != count:
        names = None  # names of another dataset: numbered classes rather than wrong labels
    path = explain_model(model, image, out, class_names=names,
                         class_index=_class_index(args.class_, names, count), layer=args.layer,
                         max_maps=args.max_maps, title=f"{stem(args.model)} on {source}")
    return _report(path, started)


def _report(path, started: float) -> int:
    size = os.path.getsize(path)
    print(f"wrote {path} ({size / 1024:.0f} KiB in {time.perf_counter() - started:.1f} s); open it in a browser")
    return 0
