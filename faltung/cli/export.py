"""``faltung export MODEL OUT.onnx``: write a saved model as an ONNX file for other runtimes."""
from __future__ import annotations

import os


def add_commands(commands) -> None:
    p = commands.add_parser("export", help="write a saved model as an ONNX file",
                            description="Write a saved model as an ONNX file (NHWC float32 input with a dynamic "
                                        "batch axis, inputs and outputs named after their layers) that ONNX "
                                        "Runtime and other runtimes run. Needs the onnx package.")
    p.add_argument("model", help="a saved .faltung model")
    p.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write (replaced atomically)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 17)")
    p.set_defaults(run=export)


def export(args) -> int:
    from ..export import DEFAULT_OPSET, export_model
    from ..models import load_model
    if not args.out.endswith(".onnx"):
        raise ValueError(f"the output file must end in .onnx; got {args.out!r}")
    model = load_model(args.model)
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    export_model(model, args.out, format="onnx", opset=opset)
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes, ONNX opset {opset}): "
          f"input {model.input_shape} -> output {model.output_shape}")
    return 0
