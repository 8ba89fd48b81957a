"""A Keras model config (Keras 3's ``config.json``, or TF 2 Keras' ``model_config``) read into faltung's
own config, without importing or running anything.

Keras nests serialized objects as ``{"module", "class_name", "config", "registered_name"}``. Every
one must come from Keras itself (``module`` ``keras`` or ``keras.*``, or none in older files; no
``registered_name`` of a custom package) and every layer class must be one of faltung's own,
looked up by name in ``faltung.registry``: a ``Lambda`` layer, a custom class or a function from
another module is refused with a message naming it. A Keras argument faltung lacks is accepted
only at the value that means what faltung does anyway (``data_format="channels_last"``,
``groups=1``, ...); any other value is refused, never silently dropped.

The result is what ``Sequential.from_config``/``Model.from_config`` take, so the model is then built
the way faltung's own files are: with placeholder weights and every size bounded.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

from ... import registry
from ...layers.base import Layer
from ..from_config import MAX_LAYERS

# Keras arguments faltung's layers do not take, with the values that mean what faltung does without them.
KERAS_ONLY_ARGUMENTS: dict[str, tuple] = {
    "data_format": ("channels_last", None),
    "groups": (1,),
    "sparse": (False, None), "ragged": (False, None), "optional": (False,),  # InputLayer
    "quantization_config": (None,), "lora_rank": (None,), "lora_alpha": (None,),  # Dense and convolutions
    "synchronized": (False,), "renorm": (False,), "renorm_clipping": (None,), "renorm_momentum": (0.99,),
    "noise_shape": (None,),
    "rms_scaling": (False,),
    "keepdims": (False,),
    "pad_to_aspect_ratio": (False,), "fill_mode": ("constant",), "fill_value": (0.0,), "antialias": (False,),
    "autocast": (True,),
    "input_axes": (None,), "output_axes": (None,),  # variance-scaling initializers: the usual fans
}
_OPTION_KINDS = ("initializer", "regularizer", "constraint")
# Per-weight options faltung's layer may lack, which Keras writes as null when they are not used.
_UNSET_OPTIONS = ("_regularizer", "_constraint")
MODEL_CLASSES = {"Sequential": "Sequential", "Functional": "Model", "Model": "Model"}
# Layers that hold Python code or TensorFlow operations: nothing in a file may make faltung run them.
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
# A layer call in a graph may pass these keyword arguments only at these values. Keras records them
# (``training`` at the default of the layer's call signature); running the model, fit and predict
# override ``training`` in Keras as in faltung.
_CALL_ARGUMENTS = {"training": (None, False, True), "mask": (None,)}


class KerasConfigError(ValueError):
    """A Keras config that faltung cannot or will not read; the message names what and where."""


def check_origin(obj: dict, where: str) -> None:
    """Refuse a serialized object that does not come from Keras itself (a custom class or a function)."""
    module, registered = obj.get("module"), obj.get("registered_name")
    name = obj.get("class_name")
    if module is not None and not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
        raise KerasConfigError(f"{where}: {name!r} comes from module {module!r}, not from Keras; faltung reads "
                               "only Keras' own objects from a file and never imports code")
    if registered is not None and registered != name:
        raise KerasConfigError(f"{where}: {name!r} is the custom object {registered!r}; faltung reads only Keras' "
                               "own objects from a file (register nothing, import nothing)")


def plain(value: Any, where: str) -> Any:
    """``value`` with Keras' serialized wrappers replaced by faltung's forms: a dtype policy by its
    name, ``__tuple__``/``__numpy__`` by lists, an initializer, regularizer or constraint by
    ``{"class_name", "config"}``. Anything else Keras wraps (code, bytes, type specs) is refused."""
    if isinstance(value, list):
        return [plain(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    if not (isinstance(value.get("class_name"), str) and ("config" in value or "module" in value)):
        return {k: _option(k, plain(v, f"{where}.{k}"), f"{where}.{k}") for k, v in value.items()}
    check_origin(value, where)
    name, config = value["class_name"], value.get("config")
    if name in ("__tuple__", "__numpy__", "__tensor__") and isinstance(config, dict):
        return plain(config.get("value"), where)
    if name in ("DTypePolicy", "FloatDTypePolicy") and isinstance(config, dict):
        policy = config.get("name")
        if policy not in ("float32", "float64"):
            raise KerasConfigError(f"{where}: dtype policy {policy!r} is not supported (faltung computes in "
                                   "float32 or float64)")
        return policy
    if name.startswith("__") or name == "function":
        raise KerasConfigError(f"{where}: a serialized {name!r} ({str(config)[:80]!r}) cannot be read: faltung "
                               "never runs or rebuilds code from a file")
    return {"class_name": name, "config": plain(config if config is not None else {}, where)}


def _option(key: str, value: Any, where: str) -> Any:
    """An initializer, regularizer or constraint with the Keras arguments faltung's class lacks removed."""
    kind = next((k for k in _OPTION_KINDS if key.endswith(f"_{k}")), None)
    if kind is None or not isinstance(value, dict) or not isinstance(value.get("config"), dict):
        return value
    try:
        cls = registry.lookup(kind, value["class_name"])
    except ValueError:
        return value  # the layer's constructor names the unknown object
    if isinstance(cls, type):
        value = {**value, "config": fit_arguments(cls, value["class_name"], dict(value["config"]), where)}
    return value


@functools.lru_cache(maxsize=None)
def constructor_arguments(cls: type) -> frozenset:
    """The keyword arguments ``cls(...)`` accepts: its ``__init__``'s and, through ``**kwargs``, its bases'."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if klass is Layer or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return frozenset(names - {"self"})


def _legacy_arguments(class_name: str, config: dict) -> None:
    """TF 2 Keras' spellings of arguments, changed in place to Keras 3's (what faltung takes)."""
    if "batch_input_shape" in config:  # TF 2: the first layer or an InputLayer carries the batch shape
        shape = config.pop("batch_input_shape")
        if class_name == "InputLayer":
            config.setdefault("batch_shape", shape)
        elif isinstance(shape, list) and shape:
            config.setdefault("input_shape", shape[1:])
    if class_name == "LeakyReLU" and "alpha" in config:
        config.setdefault("negative_slope", config.pop("alpha"))
    if class_name == "BatchNormalization" and isinstance(config.get("axis"), list) and len(config["axis"]) == 1:
        config["axis"] = config["axis"][0]  # TF 2 stores the built axis as a list of one positive index


def layer_config(entry: Any, where: str) -> dict:
    """One Keras layer entry as faltung's ``{"class_name", "config"}`` (a nested model's too)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), (dict, list)):
        raise KerasConfigError(f"{where}: a layer must be {{'class_name': str, 'config': dict}}; got {str(entry)[:200]}")
    class_name = entry["class_name"]
    where = f"{where} {entry.get('name') or class_name!r}"
    check_origin(entry, where)
    if class_name in CODE_LAYERS:
        raise KerasConfigError(f"{where}: a {class_name} layer is Python code (or a TensorFlow operation); faltung "
                               "never runs code from a file. Rebuild that part with faltung's layers")
    if class_name in MODEL_CLASSES:
        return model_config(entry, where)
    try:
        cls = registry.lookup("layer", class_name)
    except ValueError as err:
        raise KerasConfigError(f"{where}: {err}") from None
    if not cls.__module__.startswith("faltung."):
        raise KerasConfigError(f"{where}: {class_name!r} is not one of Keras' layers that faltung implements "
                               f"(it is {cls.__module__}.{cls.__qualname__}, registered in this process)")
    config = plain(entry["config"], where)
    if not isinstance(config, dict):
        raise KerasConfigError(f"{where}: the layer's config must be a JSON object")
    _legacy_arguments(class_name, config)
    return {"class_name": class_name, "config": fit_arguments(cls, class_name, config, where)}


def fit_arguments(cls: type, class_name: str, config: dict, where: str) -> dict:
    """``config`` without the Keras arguments ``cls`` lacks, each of which must be at the value that
    means what faltung does without it; any other value is refused."""
    accepted = constructor_arguments(cls)
    for key in [k for k in config if k not in accepted]:
        if config[key] in KERAS_ONLY_ARGUMENTS.get(key, ()) or (key.endswith(_UNSET_OPTIONS) and config[key] is None):
            del config[key]
        else:
            what = (f"faltung supports only {' or '.join(map(repr, KERAS_ONLY_ARGUMENTS[key]))}"
                    if key in KERAS_ONLY_ARGUMENTS else f"faltung's {class_name} has no such argument")
            raise KerasConfigError(f"{where}: {class_name}({key}={config[key]!r}) is not supported ({what})")
    return config


def model_config(document: Any, where: str) -> dict:
    """A Keras model (``{"class_name": "Sequential" | "Functional", "config": ...}``) as faltung's
    ``{"class_name": "Sequential" | "Model", "config": ...}``."""
    if not isinstance(document, dict) or not isinstance(document.get("class_name"), str):
        raise KerasConfigError(f"{where}: the model config must be {{'class_name': ..., 'config': ...}}")
    check_origin(document, where)
    class_name = document["class_name"]
    if class_name not in MODEL_CLASSES:
        raise KerasConfigError(f"{where}: the model class {class_name!r} is not Sequential or Functional: a "
                               "subclassed model's architecture is Python code, which faltung never runs")
    config = document.get("config")
    if MODEL_CLASSES[class_name] == "Sequential":
        return {"class_name": "Sequential", "config": _sequential(config, where)}
    return {"class_name": "Model", "config": _functional(config, where)}


def _layer_list(config: Any, what: str, where: str) -> list:
    """The config's list of layers, refused unread beyond ``MAX_LAYERS`` (as faltung's own configs)."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise KerasConfigError(f"{where}: {what} config needs a list of layers")
    if len(config["layers"]) > MAX_LAYERS:
        raise KerasConfigError(f"{where}: the config lists {len(config['layers']):,} layers; at most "
                               f"{MAX_LAYERS:,} are read")
    return config["layers"]


def _sequential(config: Any, where: str) -> dict:
    if isinstance(config, list):  # Keras 2.0-2.1 wrote the layer list alone
        config = {"layers": config}
    layers = [layer_config(e, f"{where} layer") for e in _layer_list(config, "a Sequential", where)]
    shape = config.get("build_input_shape")
    if isinstance(shape, list) and (not layers or layers[0]["class_name"] != "InputLayer") \
            and "input_shape" not in (layers[0]["config"] if layers else {}):
        layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape}})
    return {"name": config.get("name"), "trainable": config.get("trainable", True), "layers": layers}


def _history(tensor: Any, where: str) -> tuple[str, int]:
    """``(layer name, node index)`` of a tensor reference: Keras 3's ``__keras_tensor__`` or a
    ``[name, node, tensor(, kwargs)]`` list."""
    if isinstance(tensor, dict) and tensor.get("class_name") == "__keras_tensor__":
        tensor = (tensor.get("config") or {}).get("keras_history")
    if not (isinstance(tensor, list) and 3 <= len(tensor) <= 4 and isinstance(tensor[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in tensor[1:3])):
        raise KerasConfigError(f"{where}: expected a tensor reference [layer, node, tensor]; got {str(tensor)[:120]}")
    if tensor[2] != 0:
        raise KerasConfigError(f"{where}: output {tensor[2]} of layer {tensor[0]!r}: faltung's layers have one output")
    if len(tensor) == 4:
        _check_call_arguments(tensor[3], where)
    return tensor[0], tensor[1]


def _check_call_arguments(kwargs: Any, where: str) -> None:
    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise KerasConfigError(f"{where}: call arguments must be a JSON object; got {str(kwargs)[:80]}")
    for key, value in kwargs.items():
        if value not in _CALL_ARGUMENTS.get(key, ()):
            raise KerasConfigError(f"{where}: the layer is called with {key}={str(value)[:80]}; faltung's layers "
                                   "take only their inputs")


def _node(data: Any, where: str) -> tuple[list[tuple[str, int]], bool]:
    """One call of a layer: its inputs ``[(layer, node)]`` and whether it takes a list."""
    if isinstance(data, list):  # TF 2: [[name, node, tensor, kwargs], ...]; one input is not a list
        return [_history(t, where) for t in data], len(data) > 1
    if not isinstance(data, dict) or not isinstance(data.get("args"), list) or len(data["args"]) != 1:
        raise KerasConfigError(f"{where}: a layer call must have one positional argument; got {str(data)[:160]}")
    _check_call_arguments(data.get("kwargs"), where)
    arg = data["args"][0]
    if isinstance(arg, dict) and arg.get("class_name") == "__tuple__":
        arg = (arg.get("config") or {}).get("value")
    if isinstance(arg, list):
        return [_history(t, where) for t in arg], True
    return [_history(arg, where)], False


def _endpoints(value: Any, where: str) -> list[tuple[str, int]]:
    """``input_layers``/``output_layers``: one ``[name, node, tensor]`` or a list of them."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise KerasConfigError(f"{where}: expected [layer, node, tensor] or a list of them; got {str(value)[:120]}")
    return [_history(v, where) for v in value]


def _functional(config: Any, where: str) -> dict:
    layers, calls, nested = [], {}, set()
    for entry in _layer_list(config, "a functional model's", where):
        layer = layer_config(entry, f"{where} layer")
        name = layer["config"].get("name")
        if not isinstance(name, str) or (isinstance(entry, dict) and entry.get("name", name) != name):
            raise KerasConfigError(f"{where}: layer {str(entry.get('name'))[:80]!r} has no name of its own")
        if name in calls:
            raise KerasConfigError(f"{where}: two layers are named {name!r}")
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise KerasConfigError(f"{where}: inbound_nodes of {name!r} must be a list")
        calls[name] = [_node(n, f"{where} layer {name!r}") for n in nodes]
        if layer["class_name"] == "Model":
            nested.add(name)
        layers.append(layer)
    inputs = _endpoints(config.get("input_layers"), f"{where} input_layers")
    # A nested functional model counts a node of its own before its calls in input_layers and
    # output_layers (not in the calls' arguments): faltung counts calls only.
    outputs = [(n, i - 1 if n in nested else i) for n, i in _endpoints(config.get("output_layers"),
                                                                       f"{where} output_layers")]
    return {"name": config.get("name"), "trainable": config.get("trainable", True), "layers": layers,
            "nodes": _ordered_nodes(calls, {n for n, _ in inputs}, where),
            "inputs": [list(t) for t in inputs], "outputs": [list(t) for t in outputs],
            "multi_input": len(inputs) > 1, "multi_output": len(outputs) > 1}


def _ordered_nodes(calls: dict[str, list], inputs: set[str], where: str) -> list[dict]:
    """faltung's node list: every layer call after the calls it reads (and after the same layer's
    earlier calls, which its index counts). Keras' file lists them per layer, in any order."""
    waiting: dict[tuple[str, int], list[tuple[str, int]]] = {}  # a node -> the nodes that wait for it
    missing: dict[tuple[str, int], int] = {}
    ready = []
    for name, nodes in calls.items():
        for index, (parents, _) in enumerate(nodes):
            needs = {p for p in parents if p[0] not in inputs} | ({(name, index - 1)} if index else set())
            for p in needs:
                if p[0] not in calls or p[1] >= len(calls[p[0]]):
                    raise KerasConfigError(f"{where}: layer {name!r} reads node {p[1]} of {p[0]!r}, which does not exist")
                waiting.setdefault(p, []).append((name, index))
            missing[(name, index)] = len(needs)
            if not needs:
                ready.append((name, index))
    ordered = []
    while ready:
        node = ready.pop()
        name, index = node
        parents, takes_list = calls[name][index]
        ordered.append({"layer": name, "inbound": [list(p) for p in parents], "takes_list": takes_list})
        for follower in waiting.get(node, ()):
            missing[follower] -= 1
            if not missing[follower]:
                ready.append(follower)
    if len(ordered) != len(missing):
        raise KerasConfigError(f"{where}: the graph has a cycle or a call that reads an unknown layer")
    return ordered


def _compile_object(value: Any, where: str) -> Any:
    """A loss, metric or optimizer entry: a name, or a serialized Keras object as faltung's dict.
    TF 2 wrote a metric made from a function as ``MeanMetricWrapper`` naming the function, and a
    loss' default reduction as ``"auto"``."""
    if isinstance(value, str):
        return value
    value = plain(value, where)
    if isinstance(value, dict) and isinstance(value.get("config"), dict):
        config = value["config"]
        if value["class_name"] == "MeanMetricWrapper" and isinstance(config.get("fn"), str):
            return config["fn"]
        if config.get("reduction") == "auto":
            value = {**value, "config": {**config, "reduction": "sum_over_batch_size"}}
    return value


def compile_settings(config: Any, where: str) -> dict | None:
    """Keras' ``compile_config`` (or TF 2's ``training_config``) as ``{"optimizer", "loss", "metrics"}``
    for ``model.compile``: an optimizer as ``{"class_name", "config"}``, a loss and metrics as Keras
    names or ``{"class_name", "config"}``. None when the file has no compile settings."""
    if not config:
        return None
    if not isinstance(config, dict):
        raise KerasConfigError(f"{where}: compile settings must be a JSON object")
    optimizer = config.get("optimizer", config.get("optimizer_config"))
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        optimizer = {**optimizer, "config": {k: v for k, v in optimizer["config"].items()
                                             # TF 2's keys of no effect on the numbers
                                             if k not in ("jit_compile", "is_legacy_optimizer")
                                             and not (k == "decay" and v == 0)}}
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key) is not None:
            raise KerasConfigError(f"{where}: {key}={str(config[key])[:80]} is not supported; load with "
                                   "compile=False to get the model without its compile settings")
    loss, metrics = config.get("loss"), config.get("metrics") or []
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # TF 2: one list of metrics per output
    if not isinstance(loss, (str, dict)) or not isinstance(metrics, list):
        raise KerasConfigError(f"{where}: faltung reads one loss (a name or a Keras loss) and a flat list of "
                               f"metrics; got loss={str(loss)[:80]}, metrics={str(metrics)[:80]}")
    return {"optimizer": _compile_object(optimizer, f"{where} optimizer"),
            "loss": _compile_object(loss, f"{where} loss"),
            "metrics": [_compile_object(m, f"{where} metric") for m in metrics]}
