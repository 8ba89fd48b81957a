"""Keras-style layers: each holds its Parameters and calls a differentiable op of ``faltung.functional``."""
from .activation_layers import ELU, LeakyReLU, PReLU
from .augmentation import RandomCrop, RandomFlip, RandomTranslation
from .base import Layer, SymbolicTensor, get_layer_class, register
from .conv import Conv2D, ZeroPadding2D
from .convolutional import Conv1D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, ReLU, Rescaling, Reshape, Softmax
from .image_augmentation import RandomBrightness, RandomContrast, RandomRotation, RandomZoom
from .merge import Add, Average, Concatenate, Maximum, Multiply, Subtract
from .norm_layers import GroupNormalization, LayerNormalization
from .normalization import BatchNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D,
                      GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .pooling1d import GlobalAveragePooling1D, GlobalAvgPool1D, MaxPool1D, MaxPooling1D
from .preprocessing import Lambda, Normalization, SpatialDropout2D
from .reshaping import CenterCrop, Cropping2D, Resizing, UpSampling2D

Convolution2D = Conv2D
Convolution1D = Conv1D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D

__all__ = [
    "Layer", "SymbolicTensor", "register", "get_layer_class", "Input", "InputLayer", "Conv2D", "Convolution2D",
    "ZeroPadding2D", "MaxPool2D", "MaxPooling2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
    "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D", "Dense", "Flatten", "Activation", "ReLU",
    "Softmax", "Dropout", "Reshape", "Rescaling", "BatchNormalization", "Add", "Concatenate",
    "RandomFlip", "RandomTranslation", "RandomCrop",
    # Keras' other CNN layers
    "DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D", "Conv2DTranspose", "Convolution2DTranspose",
    "Conv1D", "Convolution1D", "MaxPooling1D", "MaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D",
    "UpSampling2D", "Cropping2D", "LeakyReLU", "PReLU", "ELU", "SpatialDropout2D", "LayerNormalization",
    "GroupNormalization", "Multiply", "Average", "Maximum", "Subtract", "Resizing", "CenterCrop", "Normalization",
    "RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness", "Lambda",
]
