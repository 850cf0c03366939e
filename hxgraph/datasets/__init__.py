"""Small generated data sets."""

from hxgraph.datasets.yinyang import YinYangDataset, yinyang_class

__all__ = ["YinYangDataset", "yinyang_class"]
