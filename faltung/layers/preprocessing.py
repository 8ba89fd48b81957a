"""Keras' Normalization layer (feature-wise standardisation learned by ``adapt``), SpatialDropout2D,
and Lambda (a Python function as a layer, for models built in code only)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from .base import Layer, register


@register
class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), 1e-7)`` per feature along ``axis`` (default the last).

    Give ``mean`` and ``variance``, or call ``adapt(data)`` once to compute them from data (over every
    axis but ``axis``). ``invert=True`` maps normalised values back. Weights after adapting:
    ``[mean, variance, count]`` (non-trainable; count stored as a float).
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (then call adapt())")
        self.axis = None if axis is None else ([int(a) for a in axis] if isinstance(axis, (list, tuple))
                                               else [int(axis)])
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        self.invert = bool(invert)
        self.adapted = mean is not None

    def _keep_axes(self, rank: int) -> tuple:
        axes = tuple(sorted(a % rank for a in (self.axis or [])))
        if any(a == 0 for a in axes):
            raise ValueError(f"Normalization {self.name!r}: axis {self.axis} may not include the batch axis")
        return axes

    def _stat_shape(self, input_shape) -> tuple:
        return tuple(input_shape[a] for a in self._keep_axes(len(input_shape)))

    def build(self, input_shape):
        self._rank = len(input_shape)
        if self.input_mean is not None:
            return
        shape = self._stat_shape(input_shape)
        if None in shape:
            raise ValueError(f"Normalization {self.name!r} needs known sizes on axis {self.axis}; got {input_shape}")
        self.mean = self.add_weight("mean", shape, "zeros", trainable=False)
        self.variance = self.add_weight("variance", shape, "ones", trainable=False)
        self.count = self.add_weight("count", (), "zeros", trainable=False)

    def adapt(self, data: Any, batch_size: Any = None, steps: Any = None) -> None:
        """Set mean and variance from ``data`` (N, ...): the statistics of every feature along ``axis``."""
        data = np.asarray(getattr(data, "data", data))
        if data.dtype.kind not in "fiub" or data.ndim < 1 or len(data) == 0:
            raise ValueError(f"adapt() needs a non-empty numeric array (N, ...); got shape {data.shape}, "
                             f"dtype {data.dtype}")
        if self.input_mean is not None:
            raise ValueError(f"Normalization {self.name!r} was given mean and variance; it cannot also adapt")
        if not self.built:
            self._ensure_built((None,) + data.shape[1:])
        keep = self._keep_axes(data.ndim)
        reduce = tuple(a for a in range(data.ndim) if a not in keep)
        values = data.astype(np.float64)
        self.mean.data[...] = values.mean(axis=reduce)
        self.variance.data[...] = values.var(axis=reduce)
        self.count.data[...] = values.size // max(self.mean.data.size, 1)
        self.adapted = True

    def _statistics(self, x) -> tuple[np.ndarray, np.ndarray]:
        keep = self._keep_axes(x.ndim)
        shape = [x.shape[a] if a in keep else 1 for a in range(x.ndim)]
        if self.input_mean is not None:  # a scalar applies to every feature, an array is reshaped to them
            mean, var = (np.broadcast_to(np.reshape(m, shape) if m.ndim else m, shape)
                         for m in (self.input_mean, self.input_variance))
        else:
            mean, var = self.mean.data.reshape(shape), self.variance.data.reshape(shape)
        return mean.astype(x.dtype), var.astype(x.dtype)

    def call(self, x, training=False):
        mean, var = self._statistics(x)
        scale = np.maximum(np.sqrt(var), x.dtype.type(backend.epsilon()))
        return x * scale + mean if self.invert else (x - mean) / scale

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None else self.input_variance.tolist()}


@register
class SpatialDropout2D(Layer):
    """Dropout of whole feature maps: while training each (image, channel) map is zeroed with
    probability ``rate`` and the rest scaled by 1/(1 - rate); identity at inference."""

    def __init__(self, rate: float, data_format: Any = None, seed: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        from .convolutional import check_data_format
        check_data_format(data_format, type(self).__name__)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1); got {rate!r}")
        self.rate, self.seed = float(rate), seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, x, training=False):
        if x.ndim != 4:
            raise ValueError(f"SpatialDropout2D {self.name!r} expects images (N, H, W, C); got shape {x.shape}")
        if not training or self.rate == 0:
            return x
        keep = (self._rng or backend.rng()).random((x.shape[0], 1, 1, x.shape[3])) >= self.rate
        return x * (keep / (1.0 - self.rate)).astype(x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


LAMBDA_REFUSAL = ("a Lambda layer is Python code, and faltung never saves code to a file nor runs code from "
                  "one; write a Layer subclass with get_config() and register it with "
                  "keras.saving.register_keras_serializable(), or keep the model in code and use "
                  "save_weights()/load_weights()")


@register
class Lambda(Layer):
    """A function of Tensors as a layer: ``Lambda(lambda x: x * 2)``, for models built in code.

    ``arguments`` are passed to the function as keywords. The output shape is ``output_shape``
    (a shape without the batch axis, or a function of the input shape), or found by running the
    function on one zero sample. Its config holds code, so a model with a Lambda cannot be saved
    (``save_weights`` works) and a file naming one is refused.
    """

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a callable; got {function!r}")
        if mask is not None:
            raise ValueError("Lambda: masks are not supported by faltung; got mask=" + repr(mask))
        self.function, self.output_shape_arg, self.arguments = function, output_shape, dict(arguments or {})

    def call(self, x, training=False):
        return self.function(x, **self.arguments)

    def compute_output_shape(self, input_shape):
        if callable(self.output_shape_arg):
            return tuple(self.output_shape_arg(input_shape))
        if self.output_shape_arg is not None:
            return (input_shape[0],) + tuple(self.output_shape_arg)
        if isinstance(input_shape, list) or None in tuple(input_shape)[1:]:
            raise ValueError(f"Lambda {self.name!r}: give output_shape= (the shape could not be found by a trial "
                             f"run on input shape {input_shape})")
        with no_grad():
            out = self.call(Tensor(np.zeros((1,) + tuple(input_shape)[1:], self.dtype)))
        return (input_shape[0],) + tuple(out.shape[1:])

    def get_config(self):
        raise ValueError(f"cannot save Lambda layer {self.name!r}: {LAMBDA_REFUSAL}")

    @classmethod
    def from_config(cls, config):
        raise ValueError(f"refusing to load a Lambda layer from a file: {LAMBDA_REFUSAL}")
