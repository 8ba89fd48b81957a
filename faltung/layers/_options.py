"""Keras' per-weight options shared by the layers with kernels: regularizers and constraints."""
from __future__ import annotations

from typing import Any

from .. import constraints, regularizers


class WeightOptions:
    """Mixed into layers with a kernel and a bias: ``kernel_regularizer``, ``bias_regularizer``,
    ``kernel_constraint``, ``bias_constraint`` (Keras' names), kept and put in the config."""

    OPTIONS = ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint")

    def _set_weight_options(self, **options: Any) -> None:
        for name, value in options.items():
            getter = regularizers.get if name.endswith("regularizer") else constraints.get
            setattr(self, name, getter(value))

    def _weight_options_config(self, names: tuple = OPTIONS) -> dict:
        """Only the options that are set, so configs of plain layers stay as they were."""
        config = {}
        for name in names:
            value = getattr(self, name)
            if value is not None:
                serialize = regularizers.serialize if name.endswith("regularizer") else constraints.serialize
                config[name] = serialize(value)
        return config
