"""Datasets: clean arrays from a registered loader, then seeded label noise."""

from .base import Dataset, TrainData, load_train_data
from .noise import inject_label_noise

__all__ = ["Dataset", "TrainData", "load_train_data", "inject_label_noise"]
