"""hxtorch.spiking.datasets: the yin-yang data set."""

from hxgraph.spiking.datasets import yinyang
from hxgraph.spiking.datasets.yinyang import YinYangDataset

__all__ = ["yinyang", "YinYangDataset"]
