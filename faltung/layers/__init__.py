"""Keras-style layers: each holds its Parameters and calls a differentiable op of ``faltung.functional``."""
from .augmentation import RandomCrop, RandomFlip, RandomTranslation
from .base import Layer, SymbolicTensor, get_layer_class, register
from .conv import Conv2D, ZeroPadding2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, ReLU, Rescaling, Reshape, Softmax
from .merge import Add, Concatenate
from .normalization import BatchNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D,
                      GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

Convolution2D = Conv2D

__all__ = [
    "Layer", "SymbolicTensor", "register", "get_layer_class", "Input", "InputLayer", "Conv2D", "Convolution2D",
    "ZeroPadding2D", "MaxPool2D", "MaxPooling2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
    "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D", "Dense", "Flatten", "Activation", "ReLU",
    "Softmax", "Dropout", "Reshape", "Rescaling", "BatchNormalization", "Add", "Concatenate",
    "RandomFlip", "RandomTranslation", "RandomCrop",
]
