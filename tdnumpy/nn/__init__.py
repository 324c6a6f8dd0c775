"""Layers with hand-written forward and backward passes."""

from .activations import ACTIVATIONS, ReLU, Sigmoid, Tanh
from .dense import Dense
from .init import glorot_normal, glorot_uniform, he_normal, he_uniform
from .loss import log_softmax, softmax_cross_entropy
from .module import Module, Parameter, Sequential

__all__ = [
    "ACTIVATIONS", "Dense", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
    "log_softmax", "softmax_cross_entropy",
]
