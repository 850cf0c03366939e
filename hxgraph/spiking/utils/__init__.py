"""hxtorch.spiking.utils: NIR conversion (`to_nir`, `from_nir`, `ConversionConfig`, `to_nir_data`, `from_nir_data`)
and `dynamic_range` (the chip's membrane range, trace scale and weight scale, measured on the emulated chip)."""

from hxgraph.spiking.utils import dynamic_range
from hxgraph.spiking.utils.nir import ConversionConfig, from_nir, from_nir_data, to_nir, to_nir_data

__all__ = ["ConversionConfig", "to_nir", "from_nir", "to_nir_data", "from_nir_data", "dynamic_range"]
