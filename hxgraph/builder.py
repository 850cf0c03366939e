"""The fluent builder: `Experiment` records populations and projections into a `Graph`.

Each call validates its arguments at once and raises an error that names the call, so a
mistake surfaces on the line that made it, not later when the graph is lowered.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from hxgraph.errors import DuplicateNameError, HxGraphError, ParameterError
from hxgraph.graph import Dense, Graph, Population, Projection, Sparse
from hxgraph.graph.graph import check_dt, check_projection_endpoints, lookup_population
from hxgraph.graph.population import check_count, check_name
from hxgraph.graph.projection import check_receptor, make_weight
from hxgraph.graph.weights import FromTensor, derive_seed


class Experiment:
    """Build a spiking network step by step; every call returns the experiment.

    >>> exp = (Experiment("demo").input("x", 5).lif("h", 20, threshold=1.0).li("out", 3)
    ...        .dense("x", "h").dense("h", "out"))
    >>> exp.graph.population("h").size
    20

    `seed` makes weight initialisation reproducible: a projection's weights depend only on
    the experiment seed and the projection's name (or its own `seed=`).
    """

    def __init__(self, name: str = "experiment", dt: float = 1e-6, seed: int = 0):
        with _calling("Experiment", name, dt=dt, seed=seed):
            self.name = check_name(name, "experiment")
            self.dt = check_dt(dt)
            self.seed = check_count(seed, "seed", minimum=0, maximum=2**63 - 1)
        self._populations: dict[str, Population] = {}
        self._projections: dict[str, Projection] = {}

    # ------------------------------------------------------------ populations
    def input(self, name: Optional[str] = None, size: Optional[int] = None, *, record: Any = None,
              **params: Any) -> "Experiment":
        """A spike-source population of `size` neurons, fed with spike trains when the network runs.

        Inputs have no neuron parameters: any keyword (say `tau_mem=`) is refused with an
        `UnknownNameError` naming it, as for the other population kinds.
        """
        return self._population("input", name, size, record=record, params=params)

    def lif(self, name: Optional[str] = None, size: Optional[int] = None, *, record: Any = None,
            placement: Any = None, circuits_per_neuron: int = 1, **params: Any) -> "Experiment":
        """A population of leaky integrate-and-fire neurons.

        Parameters (hxtorch defaults): leak 80, reset 80, threshold 125, tau_mem 10e-6,
        tau_syn 10e-6, capacitance Mixed(10e-6, 63), refractory_time 1e-6, alpha 50. Each may
        be a number, a per-neuron sequence, or `Mixed(model, hardware)`.
        """
        return self._population("lif", name, size, record=record, placement=placement,
                                circuits_per_neuron=circuits_per_neuron, params=params)

    def li(self, name: Optional[str] = None, size: Optional[int] = None, *, record: Any = None,
           placement: Any = None, circuits_per_neuron: int = 1, **params: Any) -> "Experiment":
        """A population of leaky integrators (non-spiking readout): leak, tau_mem, tau_syn, capacitance."""
        return self._population("li", name, size, record=record, placement=placement,
                                circuits_per_neuron=circuits_per_neuron, params=params)

    def adex(self, name: Optional[str] = None, size: Optional[int] = None, *, record: Any = None,
             placement: Any = None, circuits_per_neuron: int = 1, **params: Any) -> "Experiment":
        """A population of adaptive exponential integrate-and-fire neurons (the chip's own model).

        The LIF's parameters plus (hxtorch's AELIF defaults): `exp_slope` ΔT 50e-3 (0 switches
        the exponential term off), `exp_threshold` V_T 110, `a` 1 (subthreshold adaptation),
        `b` 1 (spike-triggered increment), `tau_adap` 100e-6. With a = b = 0 and exp_slope = 0
        the population is a LIF. Record `"adaptation"` to get the adaptation current.
        """
        return self._population("adex", name, size, record=record, placement=placement,
                                circuits_per_neuron=circuits_per_neuron, params=params)

    def _population(self, model: str, name: Any, size: Any, **fields: Any) -> "Experiment":
        if size is None and name is not None and not isinstance(name, str):
            name, size = None, name  # `.lif(120)`: the size alone, name generated
        call = model
        with _calling(call, name, size):
            if size is None:
                raise ParameterError("missing the population size (a positive integer)")
            if name is None:
                name = self._free_name(model, self._populations, numbered=True)
            self._check_free(name, "population")
            self._populations[name] = Population(name=name, size=size, model=model, **fields)
        return self

    # ------------------------------------------------------------ projections
    def dense(self, source: str, target: str, *, name: Optional[str] = None, receptor: str = "signed",
              init: Any = None, weight: Any = None, transform: Any = None, seed: Optional[int] = None) -> "Experiment":
        """All-to-all synapses `source` → `target`; weights (out, in) drawn by `init` (default Kaiming-uniform)."""
        with _calling("dense", source, target, name=name):
            sizes = self._endpoint_sizes(source, target)
            self._project(Dense((sizes[1], sizes[0])), source, target, name, receptor, init, weight, transform, seed)
        return self

    def sparse(self, source: str, target: str, connections: Any, *, name: Optional[str] = None,
               receptor: str = "signed", init: Any = None, weight: Any = None, transform: Any = None,
               seed: Optional[int] = None) -> "Experiment":
        """Synapses only where `connections` (shape (in, out), dense or torch sparse) is non-zero.

        Only the connections are stored (memory ∝ their number). `weight` may be one value
        per connection in (target, source) order, or an (out, in) matrix that is zero off the
        connections.
        """
        with _calling("sparse", source, target, name=name):
            in_size, out_size = self._endpoint_sizes(source, target)
            connectivity = Sparse.from_connections(connections, in_size, out_size)
            self._project(connectivity, source, target, name, receptor, init, weight, transform, seed)
        return self

    def _endpoint_sizes(self, source: Any, target: Any) -> tuple[int, int]:
        """Sizes of the (existing) source and target populations."""
        return (lookup_population(source, self._populations, "source", None).size,
                lookup_population(target, self._populations, "target", None).size)

    def _project(self, connectivity: Any, source: str, target: str, name: Optional[str], receptor: str,
                 init: Any, weight: Any, transform: Any, seed: Optional[int]) -> None:
        if name is None:
            name = self._free_name(f"{source}_to_{target}", self._projections, numbered=False)
        self._check_free(name, "projection")
        check_receptor(receptor)
        if seed is None:
            seed = derive_seed(self.seed, name)
        else:
            seed = check_count(seed, "seed", minimum=0, maximum=2**63 - 1)  # torch generators take int64 seeds
        given = weight is not None or isinstance(init, FromTensor)
        w = make_weight(connectivity, receptor, init, weight, seed, f"projection {name!r}")
        projection = Projection(name=name, source=source, target=target, connectivity=connectivity, weight=w,
                                receptor=receptor, init=init, transform=transform, seed=None if given else seed)
        check_projection_endpoints(projection, self._populations)
        self._projections[name] = projection

    # ------------------------------------------------------------ names
    def _check_free(self, name: Any, kind: str) -> None:
        check_name(name, kind)
        taken = self._populations if kind == "population" else self._projections
        if name in taken:
            raise DuplicateNameError(f"a {kind} named {name!r} already exists in experiment {self.name!r}; "
                                     f"{kind} names must be unique")

    @staticmethod
    def _free_name(stem: str, taken: dict, numbered: bool) -> str:
        """`stem` if free (projections), else the first free `stem_2`, `stem_3`...; or `lif0`, `lif1`... (populations)."""
        if not numbered and stem not in taken:
            return stem
        index = 0 if numbered else 2
        while (candidate := f"{stem}{index}" if numbered else f"{stem}_{index}") in taken:
            index += 1
        return candidate

    # ------------------------------------------------------------ result
    @property
    def graph(self) -> Graph:
        """The recorded graph (weights are shared with the experiment, not copied)."""
        return Graph(self.name, self.dt, self._populations.values(), self._projections.values())

    def summary(self) -> str:
        return self.graph.summary()

    def __repr__(self) -> str:
        return (f"<hxgraph.Experiment {self.name!r}: {len(self._populations)} populations, "
                f"{len(self._projections)} projections>")


@contextlib.contextmanager
def _calling(call: str, *args: Any, **kwargs: Any) -> Iterator[None]:
    """Prefix any hxgraph error raised inside with the builder call that caused it."""
    try:
        yield
    except HxGraphError as exc:
        shown = [repr(a) for a in args if a is not None] + [f"{k}={v!r}" for k, v in kwargs.items() if v is not None]
        prefix = f"Experiment.{call}({', '.join(shown)})" if call != "Experiment" else f"Experiment({', '.join(shown)})"
        raise type(exc)(f"{prefix}: {exc}") from None
