"""`YinYangDataset(r_small=0.1, r_big=0.5, size=1000, seed=42, transform=None)`; items `(sample float32 (4,), label int)`."""

from hxgraph.datasets.yinyang import YinYangDataset

__all__ = ["YinYangDataset"]
