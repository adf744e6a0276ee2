"""Datasets: clean arrays from a registered loader, then seeded label noise."""

from .base import Dataset, DataShape, TrainData, declared_shape, load_train_data
from .noise import inject_label_noise

__all__ = ["Dataset", "DataShape", "TrainData", "declared_shape", "load_train_data", "inject_label_noise"]
