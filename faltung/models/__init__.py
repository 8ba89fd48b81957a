"""Models: ``Sequential`` stacks, functional graphs ``Model(inputs, outputs)``, saving and loading."""
from .saving import load_model
from .cloning import clone_model, model_from_json
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "clone_model", "model_from_json"]
