"""Layers with hand-written forward and backward passes."""

from .activations import ACTIVATIONS, ReLU, Sigmoid, Tanh
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout, GaussianDropout, SpatialDropout, Standout
from .init import glorot_normal, glorot_uniform, he_normal, he_uniform, lecun_uniform
from .loss import log_softmax, softmax_cross_entropy
from .module import Module, Parameter, Sequential
from .pool import AvgPool2D, Flatten, MaxPool2D

__all__ = [
    "ACTIVATIONS",
    "AvgPool2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GaussianDropout",
    "MaxPool2D",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SpatialDropout",
    "Standout",
    "Tanh",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_uniform",
    "log_softmax",
    "softmax_cross_entropy",
]
