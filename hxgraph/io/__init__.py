"""Exchange formats: hxgraph graphs to and from other tools' network descriptions.

`to_nir` / `from_nir` / `write_nir` / `read_nir` convert to and from NIR, the Neuromorphic
Intermediate Representation that snnTorch, Norse, SpikingJelly, Rockpool, Sinabs, Lava and
others read and write (see docs/nir.md). NIR support is optional: install `hxgraph[nir]`;
without it these functions raise `hxgraph.errors.MissingDependencyError`. Importing this
package never needs the optional dependency.
"""

from hxgraph.errors import ConversionError, MissingDependencyError
from hxgraph.io.nir import DEFAULT_DT, from_nir, read_nir, to_nir, write_nir  # noqa: F401 (DEFAULT_DT: a constant)

__all__ = ["to_nir", "from_nir", "write_nir", "read_nir", "ConversionError", "MissingDependencyError"]
