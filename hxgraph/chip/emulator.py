"""The emulator: executes a `ChipConfig` on input spikes and returns what the chip would return.

It reads only the configuration (plus the analog model of the chip and its seed): events
travel the configured path (`delivery.py`), neurons integrate the current-based LIF in
hardware units, spikes leave with times on the FPGA clock, membranes are read as 8-bit
CADC codes about every 1.7 µs and, for up to two neurons, as 10-bit MADC traces.

Time: step k of the user's grid is the time k·dt. Input spikes of step k arrive at k·dt
(on the 8 ns clock). A neuron's state is updated from grid point to grid point by the exact
solution of its linear sub-threshold dynamics; its circuit is calibrated so that this
solution, sampled at the grid, equals the model neuron of the mock (that is what the
chip's calibration aims for). The threshold is evaluated at grid points; the reported
spike time is where the membrane actually crossed it within the step. Between grid points
(CADC and MADC samples) the membrane follows the exact solution as well.

Populations are updated in the order of their dependencies on the chip: a spike reaches
targets that come later in the same step, and targets on a cycle with its source in the
next step — the same convention as the mock.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import operator
from typing import Any, Callable, Mapping, Optional, Sequence

import attrs
import networkx as nx
import torch

from hxgraph import kernels
from hxgraph.chip.analog import (SATURATION_DENOMINATOR, SATURATION_LIMIT, SATURATION_NUMERATOR, AnalogModel,
                                 ChipInstance, saturate_)
from hxgraph.chip.calibration import CAPACITANCE_CODE, MODEL_CAPACITANCE
from hxgraph.chip.config import ChipConfig
from hxgraph.chip.delivery import Delivery, DeliveryMap, delivery_map, same_event_path, same_fields
from hxgraph.errors import InputError, ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph.memory import check_allocation, format_bytes, memory_limit
from hxgraph.progress import progress_bar

# The AdEx exponent (v - V_T) / ΔT is clamped as in the mock (hxgraph.mock.functional.EXPONENT_CAP/_FLOOR;
# back ends do not import each other): a membrane that far above V_T spikes in this step anyway.
EXPONENT_CAP = 40.0
EXPONENT_FLOOR = -80.0

# The keyword options of `Emulator` (besides config, analog, seed and dt). `hx.emulate` and
# `hx.in_the_loop` check them with `check_emulator_options` before placing and routing.
EMULATOR_OPTIONS = ("cadc_interval", "cadc_jitter", "long_recording", "madc", "progress")
SEED_LIMIT = 2**64  # torch's generators take seeds up to 2**64 - 1

# Trace buffers of the feed-forward path, kept between runs (at most this much): a run's fresh buffers
# would cost a page fault per 4 KiB on first write, longer than the integration itself. Shared by every
# emulator of the process (runs are sequential or share by taking turns).
WORKSPACE = kernels.Workspace(limit=256 * 2**20)

# What `Emulator._neuron_parameters` reads of a configuration (besides the chip instance, which stays).
_NEURON_FIELDS = ("populations", "neuron_circuits", "circuit_spiking", "circuit_params", "constant_current")

# Bytes per value of the run's buffers, and the float temporaries of reading one sample of one
# neuron (`_membrane_between` and `_sample`: the state before, the net current, decay and PSC
# integral terms, the membrane, noise, codes — about a dozen), for `Emulator.memory_needed`.
_FLOAT, _DOUBLE = 4, 8
_SAMPLE_TEMPORARIES = 12


# ---------------------------------------------------------------------- option checks
# Cheap checks of type and range only (no chip, no mapping needed), so a wrong option fails
# at once with its name instead of after placement or, worse, as NaN membranes in a run.

def check_seed(seed: Any, what: str = "seed") -> int:
    """`seed` as an int in 0..2**64 - 1; floats and bools are refused rather than truncated (1.7 is not 1)."""
    try:
        if isinstance(seed, (bool, float)):
            raise TypeError
        value = operator.index(seed)  # python, numpy and 0-d integer tensor ints
    except TypeError:
        raise ParameterError(f"{what} must be an integer >= 0 (it picks the emulated chip); got {seed!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise ParameterError(f"{what} must be an integer in 0..2**64 - 1; got {value}")
    return value


def _seconds(value: Any, what: str, positive: bool) -> float:
    """A finite number of seconds, > 0 (`positive`) or >= 0."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise ParameterError(f"{what} must be a finite number of seconds {bound}; got {value!r}")
    return float(value)


def _flag(value: Any, what: str, optional: bool = False) -> Optional[bool]:
    """True or False (or None where `optional`): a string such as "no" is not a flag."""
    if value is None and optional:
        return None
    if not isinstance(value, bool):
        allowed = "True, False or None" if optional else "True or False"
        raise ParameterError(f"{what} must be {allowed}; got {value!r}")
    return value


def check_madc(madc: Any) -> tuple[tuple[str, int], ...]:
    """`madc` as a tuple of (population name, neuron index >= 0) pairs; whether those neurons
    exist is checked against the configuration by the emulator."""
    expected = "madc must be a list of (population, neuron) pairs, e.g. [('hidden', 0)]"
    if isinstance(madc, (str, bytes)) or not isinstance(madc, Sequence):
        raise ParameterError(f"{expected}; got {madc!r}")
    pairs = []
    for entry in madc:
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) != 2:
            hint = f" (one pair goes in a list: [{tuple(madc)!r}])" if len(madc) == 2 and isinstance(madc[0], str) else ""
            raise ParameterError(f"{expected}; entry {entry!r} is not a pair{hint}")
        population, neuron = entry
        try:
            if isinstance(neuron, (bool, float)):
                raise TypeError
            neuron = operator.index(neuron)
        except TypeError:
            neuron = None
        if not isinstance(population, str) or neuron is None or neuron < 0:
            raise ParameterError(f"{expected}; in {tuple(entry)!r} the population must be a name and the neuron an "
                                 "integer >= 0")
        pairs.append((population, neuron))
    return tuple(pairs)


_OPTION_CHECKS = {
    "cadc_interval": lambda v: None if v is None else _seconds(v, "cadc_interval", positive=True),
    "cadc_jitter": lambda v: _seconds(v, "cadc_jitter", positive=False),
    "long_recording": lambda v: _flag(v, "long_recording"),
    "madc": check_madc,
    "progress": lambda v: _flag(v, "progress", optional=True),
}


def check_emulator_options(options: Mapping[str, Any], who: str = "Emulator", others: Sequence[str] = (),
                           note: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The emulator's keyword options, each checked by name and value (normalised values returned).

    An unknown name is a `ParameterError` that suggests the closest of `EMULATOR_OPTIONS` and
    `others` (the caller's own keywords) and adds `note[name]` where given.
    """
    valid = tuple(others) + EMULATOR_OPTIONS
    for name in options:
        if name not in EMULATOR_OPTIONS:
            extra = (note or {}).get(name, "")
            raise ParameterError(f"{who}: unknown option {name!r}{did_you_mean(name, valid)}{extra}; options: "
                                 f"{known(valid)}")
    return {name: _OPTION_CHECKS[name](value) for name, value in options.items()}


def check_run_memory(needed: Callable[[int, int], Mapping[str, float]], steps: int, batch: int, what: str) -> None:
    """Refuse a run of `steps` × `batch` whose buffers (`needed(steps, batch)`: bytes by part) exceed the
    memory limit (`hxgraph.graph.memory`), before anything is allocated; the error says how much it would
    need, where most of it goes, and what fits: the largest batch per call, or else the longest runtime."""
    parts = needed(steps, batch)
    total = sum(parts.values())
    limit = memory_limit()
    if total <= limit:
        return
    largest = max(parts, key=parts.__getitem__)

    def fits(s: int, b: int) -> bool:
        return sum(needed(s, b).values()) <= limit

    batch_fits = _largest(lambda b: fits(steps, b), batch - 1)
    if batch_fits:
        remedy = (f"run the batch in calls of at most {batch_fits:,} entries (each entry is an independent run), "
                  "or fewer steps")
    else:
        steps_fit = _largest(lambda s: fits(s, 1), steps - 1)
        remedy = (f"shorten the run to at most {steps_fit:,} step{'s' if steps_fit > 1 else ''} (at batch 1)" if steps_fit else
                  "even one step of one entry does not fit: use fewer neurons")
    if largest in ("CADC samples", "MADC traces"):
        remedy += "; or record less (a longer cadc_interval, fewer populations recording 'membrane', no MADC)"
    check_allocation(total, f"{what}: {steps:,} steps × batch {batch:,} (mostly {largest}: "
                            f"{format_bytes(parts[largest])})", remedy)


def _largest(fits: Callable[[int], bool], upper: int) -> int:
    """The largest n in 1..upper with fits(n), 0 if none; `fits` must be monotone (true up to some n)."""
    if upper < 1 or not fits(1):
        return 0
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def check_input_names(inputs: Any, names: Sequence[str], owner: str, who: str) -> None:
    """`inputs` is a dict holding spikes for exactly the input populations `names` (of `owner`)."""
    if not isinstance(inputs, Mapping):
        raise InputError(f"{who} takes a dict {{input population: spikes (T, B, N)}}; got {type(inputs).__name__}")
    for name in inputs:
        if name not in names:
            raise UnknownNameError(f"input {name!r} is not an input population of {owner}"
                                   f"{did_you_mean(name, names)}; input populations: {known(names)}")
    missing = [n for n in names if n not in inputs]
    if missing:
        raise InputError(f"missing spikes for input population(s) {known(missing)}")


def _padded(spikes: Mapping[str, torch.Tensor], steps: int) -> dict[str, torch.Tensor]:
    """Inputs with zeros appended up to `steps` (a runtime longer than the given spike trains)."""
    return {k: torch.cat([v, v.new_zeros(steps - v.shape[0], *v.shape[1:])]) if v.shape[0] < steps else v
            for k, v in spikes.items()}


@attrs.frozen(eq=False)
class Recording:
    """What one emulated run returns, in the chip's own terms.

    `spikes[population]`: int64 (events, 3) rows of (batch entry, neuron, FPGA clock tick), ordered by
    batch entry, then time step, then neuron.
    `cadc_times`: float64 (batch, samples) sample times in seconds; `cadc[population]`: uint8
    (batch, samples, neurons) codes of the populations that were read. `madc[(population, neuron)]`: (times (samples,), int16
    codes (batch, samples)). `steps` and `dt` give the user's grid.
    """

    spikes: Mapping[str, torch.Tensor]
    cadc_times: torch.Tensor
    cadc: Mapping[str, torch.Tensor]
    madc: Mapping[tuple[str, int], tuple[torch.Tensor, torch.Tensor]]
    steps: int
    dt: float
    clock_period: float


@attrs.frozen(eq=False)
class _Fired:
    """The spikes of one population from a compiled run: `events` int64 (E, 3) rows (entry, step, neuron)
    sorted in that order; `shape` (T, B, N) of the spike masks they stand for."""

    events: torch.Tensor
    shape: tuple[int, int, int]

    def dense(self) -> torch.Tensor:
        b, t, n = self.events.unbind(1)
        return torch.zeros(self.shape).index_put_((t, b, n), torch.ones(()))


def _densify(spikes_of: dict[str, Any], names: Sequence[str]) -> None:
    """Spike masks (T, B, N) in place of the compiled runs' events of `names`, for the loops that need them."""
    for name in names:
        if isinstance(spikes_of.get(name), _Fired):
            spikes_of[name] = spikes_of[name].dense()


@attrs.frozen(eq=False)
class _Neurons:
    """Per-neuron hardware parameters of one on-chip population, mismatch applied (float32).

    Grid map per step: v += (decay_mem - 1)(v - rest) + input_gain · (exc - inh), then
    exc *= decay_exc, inh *= decay_inh, plus arriving weight; the membrane stays within the
    rails `low`..`high`. `rest` is the leak shifted by the constant current source (the
    potential it holds the membrane at: leak + current · tau_mem / C); a membrane starts at
    `leak`. Between grid points the exact solution with the effective continuous constants
    `tau_mem`, `tau_syn` (the mean of the excitatory and inhibitory ones) and `kappa` applies.
    """

    spiking: bool
    leak: torch.Tensor
    rest: torch.Tensor
    reset: torch.Tensor
    threshold: torch.Tensor
    decay_mem: torch.Tensor     # 1 - dt / tau_mem
    decay_exc: torch.Tensor     # 1 - dt / tau_syn (excitatory)
    decay_inh: torch.Tensor
    input_gain: torch.Tensor    # dt / capacitance
    refractory: torch.Tensor    # refractory_time / dt (counter start value)
    tau_mem: torch.Tensor       # effective continuous time constants (between grid points)
    tau_syn: torch.Tensor
    kappa: torch.Tensor
    low: float                  # membrane rails (CADC units; infinite: none)
    high: float
    adex: Optional["_Adaptation"] = None  # AdEx circuits: adaptation and exponential term
    # `_psc_rate` of tau_mem and tau_syn, which every spike-time search and readout needs
    psc_rate: tuple[torch.Tensor, torch.Tensor] = attrs.field(
        init=False, repr=False, default=attrs.Factory(lambda p: _psc_rate(p.tau_mem, p.tau_syn), takes_self=True))


@attrs.frozen(eq=False)
class _Adaptation:
    """Per-neuron AdEx terms of one population in hardware units, mismatch applied (float32).

    Per step, from the previous grid point's v and w: the membrane gains
    `dt/tau_mem · slope · exp((v - v_t) / slope) - input_gain · w` (slope 0: no exponential
    term); after the spike check `w ← decay · w + gain · a · (min(v, threshold) - leak) + b · z`
    with v before the reset. The exponential's constants are per neuron, fixed per configuration.
    """

    exp_gain: torch.Tensor      # dt/tau_mem · slope (with mismatch; 0 where the term is off)
    inv_slope: torch.Tensor     # 1 / slope (0 where the term is off)
    exp_offset: torch.Tensor    # -v_t / slope
    a: torch.Tensor
    b: torch.Tensor
    decay: torch.Tensor         # 1 - dt / tau_adap
    gain: torch.Tensor          # dt / tau_adap

    @classmethod
    def of(cls, slope: torch.Tensor, v_t: torch.Tensor, leak_gain: torch.Tensor, **terms: torch.Tensor
           ) -> "_Adaptation":
        on = slope > 0
        inv_slope = torch.where(on, 1 / torch.where(on, slope, torch.ones_like(slope)), torch.zeros_like(slope))
        return cls(exp_gain=(leak_gain * slope).float(), inv_slope=inv_slope.float(),
                   exp_offset=(-v_t * inv_slope).float(), **{k: v.float() for k, v in terms.items()})

    def drive(self, v: torch.Tensor, w: torch.Tensor, input_gain: torch.Tensor) -> torch.Tensor:
        """What the exponential term and the adaptation add to the membrane in one step."""
        exponential = torch.addcmul(self.exp_offset, v, self.inv_slope).clamp_(EXPONENT_FLOOR, EXPONENT_CAP).exp_()
        return exponential.mul_(self.exp_gain).addcmul_(input_gain, w, value=-1)


def _psc_integral(x: torch.Tensor, tau_mem: torch.Tensor, tau_syn: torch.Tensor) -> torch.Tensor:
    """∫0^x e^{-(x-u)/tau_mem} e^{-u/tau_syn} du: how much a decaying current moved the membrane by x."""
    decay_mem = torch.exp(-x / tau_mem)
    close, safe = _psc_rate(tau_mem, tau_syn)
    return torch.where(close, x * decay_mem, (torch.exp(-x / tau_syn) - decay_mem) / safe)


def _psc_rate(tau_mem: torch.Tensor, tau_syn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where 1/tau_mem - 1/tau_syn is too small to divide by (`close`: the integral's limit applies), and
    that rate with 1 there (`safe`): the parts of `_psc_integral` that do not depend on the time."""
    rate = 1 / tau_mem - 1 / tau_syn
    close = rate.abs() < 1e-3 / tau_mem
    return close, torch.where(close, torch.ones_like(rate), rate)


# e^x for x <= 0 in the spike-time search, from +, ·, rounding and the exponent bits alone (Cody-Waite reduction
# x = k·ln2 + r, |r| <= ln2/2, and the Taylor polynomial of e^r to degree 7: within 2e-7 of e^x), so that the
# torch loops and the compiled search (`hxgraph._numba_kernels.crossing_ticks`) find the same tick: two
# libraries' exp functions differ in the last bit, and a tick can hang on it. Below -87, e^x is taken as e^-87.
EXP_CONSTANTS = (1.4426950408889634, 0.693359375, -2.12194440e-4, -87.0,
                 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1.0, 1.0)


def exp_(x: torch.Tensor) -> torch.Tensor:
    """e^x of a float32 tensor x <= 0 as `EXP_CONSTANTS` describe (the kernel `_numba_kernels._exp` performs the
    same operations in the same order; change both together)."""
    log2e, ln2_high, ln2_low, floor, *coefficients = EXP_CONSTANTS
    x = x.clamp(min=floor)
    k = torch.round(x * log2e)
    r = x - k * ln2_high
    r = r - k * ln2_low
    p = r * coefficients[0] + coefficients[1]
    for c in coefficients[2:]:
        p = p * r + c
    return p * torch.bitwise_left_shift(k.to(torch.int32) + 127, 23).view(torch.float32)


def subthreshold(v0: torch.Tensor, net: torch.Tensor, leak: torch.Tensor, tau_mem: torch.Tensor,
                 tau_syn: torch.Tensor, kappa: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Membrane `tau` seconds after a grid point, from the exact solution of the linear dynamics.

    dv/dt = -(v - leak)/tau_mem + kappa·I with I = net·e^(-t/tau_syn) decaying from the grid
    point. `kappa` (see `_Neurons`) makes the solution at tau = dt equal the grid map
    v + (dt/tau_mem')(leak - v) + input_gain·net that the update uses.
    """
    # float32, e^x as `exp_` (the compiled readout, `kernels.cadc_membrane`, computes the same to the bit)
    decay = exp_(-tau / tau_mem)
    close, safe = _psc_rate(tau_mem, tau_syn)
    integral = torch.where(close, tau * decay, (exp_(-tau / tau_syn) - decay) / safe)
    return leak + (v0 - leak) * decay + kappa * net * integral


class Emulator:
    """An emulated chip running one `ChipConfig`.

    `analog` (default `AnalogModel()`: calibrated, with mismatch and noise; `AnalogModel.ideal()`
    for none) and `seed` fix the chip: the same seed gives the same fixed-pattern mismatch and
    the same sequence of trial-to-trial noise. `dt` is the user's time grid.
    CADC: a sample every `cadc_interval` seconds (default the chip's ~1.7 µs) with a random
    jitter of `cadc_jitter` seconds (std), at most the chip's 100 samples per run unless
    `long_recording`. `madc`: up to two (population, neuron) pairs recorded at 29.4 MSa/s.
    `progress`: a bar over the batch chunks (None: only for long runs, and only when stderr is
    a terminal or a notebook; True forces it, False hides it). Every option is
    checked before any work: an unknown keyword or a value of the wrong type or range (a
    float seed, a NaN jitter, `long_recording="no"`) is a `ParameterError` naming the option.
    """

    def __init__(self, config: ChipConfig, analog: Optional[AnalogModel] = None, seed: int = 0, dt: float = 1e-6,
                 *, cadc_interval: Optional[float] = None, cadc_jitter: float = 0.1e-6, long_recording: bool = False,
                 madc: Sequence[tuple[str, int]] = (), progress: Optional[bool] = None, **unknown: Any):
        if not isinstance(config, ChipConfig):
            raise ParameterError(f"Emulator needs a ChipConfig (mapping.config); got {type(config).__name__}")
        # Every option before any work (drawing the chip, compiling the delivery).
        options = check_emulator_options(dict(cadc_interval=cadc_interval, cadc_jitter=cadc_jitter,
                                              long_recording=long_recording, madc=madc, progress=progress, **unknown),
                                         others=("analog", "seed", "dt"))
        self.seed = check_seed(seed)
        self.dt = _seconds(dt, "dt", positive=True)
        self.spec = config.spec
        self.analog = AnalogModel() if analog is None else analog
        if not isinstance(self.analog, AnalogModel):
            raise ParameterError(f"analog must be an hxgraph.chip.AnalogModel; got {analog!r}")
        self.cadc_interval = (self.spec.cadc_sample_interval if options["cadc_interval"] is None
                              else options["cadc_interval"])
        self.cadc_jitter = options["cadc_jitter"]
        self.long_recording = options["long_recording"]
        self.progress = options["progress"]
        self.instance = ChipInstance.draw(self.spec, self.analog, self.seed)
        self._runs = 0
        self._delivery_map: Optional[DeliveryMap] = None
        self.reconfigure(config)
        self.madc = self._checked_madc(options["madc"])

    def reconfigure(self, config: ChipConfig) -> None:
        """Load another configuration onto the same chip (same mismatch, noise sequence continues)."""
        if not isinstance(config, ChipConfig) or config.spec != self.spec:
            raise ParameterError("reconfigure needs a ChipConfig for the same chip spec")
        # A weight-only update (the chip in the loop) keeps the event path and the neurons: only the weights
        # are summed anew.
        first = self._delivery_map is None
        path_kept = not first and same_event_path(self.config, config)
        if not path_kept:
            self._delivery_map = delivery_map(config)
        neurons_kept = not first and same_fields(self.config, config, _NEURON_FIELDS)
        self.config = config
        pairs = None if first else set(self.delivery.excitatory) | set(self.delivery.inhibitory)
        self.delivery: Delivery = self._delivery_map.deliver(
            config.synapse_weight, None if self.analog.synapse_gain_mismatch == 0 else self.instance.synapse_gain_factor)
        if not neurons_kept:
            self._neurons = {name: self._neuron_parameters(name) for name in config.populations}
            # what depends on the neurons only (the compiled run's parameters, the spike-time search's rates)
            self._prepared_neurons: dict[str, kernels.FeedforwardNeurons] = {}
        self._prepared: dict[str, kernels.FeedforwardPopulation] = {}  # (the weights may have changed)
        if not path_kept or pairs != set(self.delivery.excitatory) | set(self.delivery.inhibitory):
            self._order = self._update_order()  # (a weight set to zero can remove a pair, and with it a cycle)

    # ------------------------------------------------------------------ set-up
    def _checked_madc(self, madc: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
        """The pairs of `check_madc` against this configuration: at most two, on-chip, existing, of different parity."""
        if len(madc) > self.spec.madc_max_circuits:
            raise InputError(f"the MADC records at most {self.spec.madc_max_circuits} neurons at a time; "
                             f"{len(madc)} were requested: {list(madc)}")
        for pop, neuron in madc:
            if pop not in self.config.neuron_circuits:
                raise UnknownNameError(f"MADC neuron of unknown on-chip population {pop!r}"
                                       f"{did_you_mean(pop, self.config.populations)}; on-chip populations: "
                                       f"{known(self.config.populations)}")
            size = self.config.neuron_circuits[pop].shape[0]
            if not 0 <= neuron < size:
                raise InputError(f"MADC neuron {neuron} of {pop!r} does not exist (it has {size} neurons)")
        if len(madc) == 2:
            columns = [int(self.config.neuron_circuits[p][n, 0]) % self.spec.columns for p, n in madc]
            if columns[0] % 2 == columns[1] % 2:
                raise InputError(f"the MADC records two circuits only from columns of different parity; "
                                 f"{list(madc)} sit in columns {columns}")
        return madc

    def _neuron_parameters(self, name: str) -> _Neurons:
        cfg, inst, dt = self.config, self.instance, self.dt
        circuits = cfg.neuron_circuits[name]  # a neuron of several circuits: one membrane, averaged mismatch

        def per_neuron(values: torch.Tensor) -> torch.Tensor:
            return values[circuits].mean(-1)

        params = {k: v[circuits[:, 0]] for k, v in cfg.circuit_params.items()}
        spiking = bool(cfg.circuit_spiking[circuits[:, 0]].all())
        leak = params["leak"] + per_neuron(inst.leak_offset)
        tau_mem = params["tau_mem"] * per_neuron(inst.tau_mem_factor)
        tau_exc = params["tau_syn"] * per_neuron(inst.tau_syn_exc_factor)
        tau_inh = params["tau_syn"] * per_neuron(inst.tau_syn_inh_factor)
        for what, tau in (("tau_mem", tau_mem), ("tau_syn", torch.minimum(tau_exc, tau_inh))):
            if bool((tau <= dt).any()):
                raise ParameterError(
                    f"population {name!r}: {what} (with mismatch) down to {float(tau.min()):.3g} s is not longer "
                    f"than dt = {dt:g} s; the chip model needs time constants longer than the time step")
        capacitance = params["capacitance"]
        if bool((capacitance <= 0).any()) or bool(torch.isnan(capacitance).any()):
            raise ParameterError(f"population {name!r}: hardware capacitance codes must be in 1..63")
        nan = torch.full_like(leak, math.nan)
        input_gain = dt * CAPACITANCE_CODE / (MODEL_CAPACITANCE * capacitance)
        tau_mem_c = -dt / torch.log(1 - dt / tau_mem)
        tau_syn_c = (-dt / torch.log(1 - dt / tau_exc) - dt / torch.log(1 - dt / tau_inh)) / 2
        kappa = input_gain / _psc_integral(torch.full_like(tau_mem_c, dt), tau_mem_c, tau_syn_c)
        # The constant current source of every circuit of the neuron drives its one membrane.
        drive = (cfg.constant_current[circuits].sum(-1).double() * self.spec.constant_current_slew
                 * CAPACITANCE_CODE / (capacitance * circuits.shape[1]))
        fields = dict(
            leak=leak, rest=leak + drive * tau_mem, reset=params["reset"] + per_neuron(inst.reset_offset) if spiking else nan,
            threshold=params["threshold"] + per_neuron(inst.threshold_offset) if spiking else nan,
            decay_mem=1 - dt / tau_mem, decay_exc=1 - dt / tau_exc, decay_inh=1 - dt / tau_inh,
            input_gain=input_gain, refractory=(params["refractory_time"] / dt) if spiking else torch.zeros_like(leak),
            tau_mem=tau_mem_c, tau_syn=tau_syn_c, kappa=kappa)
        low, high = self.analog.membrane_range
        adex = None
        if not bool(torch.isnan(params["a"]).any()):  # an AdEx population
            tau_adap = params["tau_adap"] * per_neuron(inst.tau_adap_factor)
            if bool((tau_adap <= dt).any()):
                raise ParameterError(f"population {name!r}: tau_adap (with mismatch) down to "
                                     f"{float(tau_adap.min()):.3g} s is not longer than dt = {dt:g} s")
            strength = per_neuron(inst.adaptation_factor)
            adex = _Adaptation.of(params["exp_slope"], params["exp_threshold"] + per_neuron(inst.exp_threshold_offset),
                                  dt / tau_mem, a=params["a"] * strength, b=params["b"] * strength,
                                  decay=1 - dt / tau_adap, gain=dt / tau_adap)
        return _Neurons(spiking=spiking, low=low, high=high, adex=adex, **{k: v.float() for k, v in fields.items()})

    def _update_order(self) -> list[list[str]]:
        """On-chip populations grouped by cycles of the delivered connectivity, in dependency order."""
        g = nx.DiGraph()
        g.add_nodes_from(self.config.populations)
        pairs = set(self.delivery.excitatory) | set(self.delivery.inhibitory)
        g.add_edges_from((s, t) for s, t in pairs if s in g)
        index = {n: i for i, n in enumerate(self.config.populations)}
        dag = nx.condensation(g)
        first = {c: min(index[m] for m in dag.nodes[c]["members"]) for c in dag.nodes}
        return [sorted(dag.nodes[c]["members"], key=index.__getitem__)
                for c in nx.lexicographical_topological_sort(dag, key=first.__getitem__)]

    @property
    def input_sizes(self) -> dict[str, int]:
        return dict(self.config.input_sizes)

    # ------------------------------------------------------------------ running
    def run(self, inputs: Mapping[str, torch.Tensor], steps: Optional[int] = None,
            cadc: Optional[Sequence[str]] = None) -> Recording:
        """Execute one run per batch entry; `inputs` maps input populations to spikes (T, B, N) on the dt grid.

        `steps` is the runtime in time steps (default: T of the inputs); input spikes beyond it
        cannot be sent and are an error. `cadc` names the populations whose CADC samples to
        keep (default: all; the chip samples every circuit, but reading fewer is cheaper here).
        """
        spikes_in, steps, batch = self._checked_inputs(inputs, steps)
        cadc_populations = self._checked_cadc(cadc)
        count = self.cadc_samples(steps)
        check_run_memory(lambda s, b: self.memory_needed(s, b, cadc_populations), steps, batch,
                         f"an emulated run on {self._neuron_count():,} neurons")
        spikes_in = _padded(spikes_in, steps)
        generator = torch.Generator().manual_seed(self._run_seed())
        self._runs += 1
        cadc_times = self._cadc_schedule(batch, steps, count, generator)
        chunk = self._chunk(steps)
        # By default a bar only for runs of many chunks, and then only where a person watches.
        progress = self.progress if self.progress is not None or batch > 4 * chunk else False
        parts = []
        starts = range(0, batch, chunk)
        for start in (starts if len(starts) == 1 else  # (a bar costs more than a short run)
                      progress_bar(starts, progress=progress, desc="emulating", unit="chunk", leave=False)):
            stop = min(batch, start + chunk)
            parts.append(self._run_chunk({k: v[:steps, start:stop] for k, v in spikes_in.items()}, steps,
                                         cadc_times[start:stop], generator, start, cadc_populations))
        spikes = {name: torch.cat([p[0][name] for p in parts]) for name in self.config.populations}
        cadc = {name: torch.cat([p[1][name] for p in parts]) for name in cadc_populations}
        madc = {key: (parts[0][2][key][0], torch.cat([p[2][key][1] for p in parts])) for key in self.madc}
        return Recording(spikes, cadc_times, cadc, madc, steps, self.dt, self.spec.clock_period)

    def advance_runs(self) -> None:
        """Count a run made elsewhere on a copy of this chip (a worker process), so that the next run here
        draws the trial-to-trial noise that follows it, as if that run had happened here."""
        self._runs += 1

    def _run_seed(self) -> int:
        digest = hashlib.sha256(f"{self.seed}:run:{self._runs}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & (2**63 - 1)

    def _checked_cadc(self, cadc: Optional[Sequence[str]]) -> tuple[str, ...]:
        if cadc is not None and (isinstance(cadc, str) or not isinstance(cadc, (list, tuple))):
            raise ParameterError(f"cadc must be None (every on-chip population) or a list of population names; "
                                 f"got {cadc!r}")
        populations = self.config.populations if cadc is None else tuple(cadc)
        for name in populations:
            if not isinstance(name, str):
                raise UnknownNameError(f"cadc names on-chip populations by name; got {name!r}; on-chip: "
                                       f"{known(self._neurons)}")
            if name not in self._neurons:
                raise UnknownNameError(f"no on-chip population {name!r} to read with the CADC"
                                       f"{did_you_mean(name, self._neurons)}; on-chip: {known(self._neurons)}")
        return tuple(populations)

    def _samples(self, steps: int) -> int:
        """CADC samples per run of `steps` time steps."""
        # + 1e-9: 25e-6 // 1e-6 is 24 in floats. The cap turns an absurdly short interval (1e-320 s)
        # into an absurd count, refused by the caller, instead of an overflow of inf.
        return int(math.floor(min((steps - 1) * self.dt / self.cadc_interval, 1e18) + 1e-9)) + 1

    def cadc_samples(self, steps: int) -> int:
        """CADC samples per run; more than the chip stores is an `InputError` unless `long_recording`."""
        count = self._samples(steps)
        if count > self.spec.cadc_max_samples and not self.long_recording:
            raise InputError(f"a runtime of {steps} steps ({(steps - 1) * self.dt * 1e6:g} µs) needs {count} CADC "
                             f"samples, the chip stores at most {self.spec.cadc_max_samples} per run; pass "
                             "long_recording=True (samples stored in DRAM) or shorten the run")
        return count

    def _cadc_schedule(self, batch: int, steps: int, count: int, generator: torch.Generator) -> torch.Tensor:
        runtime = (steps - 1) * self.dt
        base = torch.arange(count, dtype=torch.float64) * self.cadc_interval
        jitter = torch.randn(batch, count, generator=generator, dtype=torch.float64) * self.cadc_jitter
        return (base + jitter).clamp(0.0, runtime)

    def _neuron_count(self) -> int:
        return sum(n.leak.numel() for n in self._neurons.values())

    def _chunk(self, steps: int) -> int:
        """Batch entries emulated at once: about 2**24 traced values (steps × neurons × entries) per chunk."""
        return max(1, 2**24 // max(1, steps * self._neuron_count()))

    def memory_needed(self, steps: int, batch: int, cadc: Optional[Sequence[str]] = None) -> dict[str, float]:
        """Bytes a run of `steps` × `batch` would hold at its peak, by part (an estimate of the largest buffers).

        The batch is emulated in chunks (`recording buffers` and the sampling temporaries are per
        chunk), but the CADC and MADC codes and the input spikes are kept for the whole batch.
        Spike events are left out: they are a small fraction of the buffers they are read from.
        """
        cadc = self.config.populations if cadc is None else cadc
        chunk = min(batch, self._chunk(steps))
        # membrane, net current, clamp and spikes; the AdEx drive, or the arriving weight per sign
        per_step = sum((5 if n.adex is not None else 6) * n.leak.numel() for n in self._neurons.values())
        samples, read = self._samples(steps), sum(self._neurons[name].leak.numel() for name in cadc)
        madc = math.ceil(max(0, steps - 1) * self.dt * self.spec.madc_sample_rate) * len(self.madc)
        return {
            # float32 membrane, net current, clamp and spikes (and the AdEx drive, or the weight arriving in
            # every step) per step and neuron
            "recording buffers": _FLOAT * steps * chunk * per_step,
            # sample times (and their jitter) and uint8 codes (parts and their concatenation) for the batch;
            # per chunk and sample: step and offset, and the readout's float temporaries per neuron read
            "CADC samples": (2 * _DOUBLE + 2 * read) * batch * samples
                            + (2 * _DOUBLE + _SAMPLE_TEMPORARIES * _FLOAT * read) * chunk * samples,
            "MADC traces": (2 * 2 + _DOUBLE) * batch * madc + (2 * _DOUBLE + _SAMPLE_TEMPORARIES * _FLOAT) * chunk * madc,
            # a float32 copy of the spikes, padded to the runtime
            "input spikes": _FLOAT * steps * batch * sum(self.config.input_sizes.values()),
        }

    def _checked_inputs(self, inputs: Mapping[str, torch.Tensor], steps: Optional[int]
                        ) -> tuple[dict[str, torch.Tensor], int, int]:
        sizes = self.config.input_sizes
        check_input_names(inputs, sizes, "this configuration", "the emulator")
        out, shape = {}, None
        for name, size in sizes.items():
            s = inputs[name]
            if not isinstance(s, torch.Tensor) or s.dim() != 3 or s.shape[2] != size:
                got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise InputError(f"input {name!r} must be spikes of shape (time, batch, {size}); got {got}")
            if shape is not None and tuple(s.shape[:2]) != shape:
                raise InputError(f"inputs must share (time, batch); {name!r} has {tuple(s.shape[:2])}, others {shape}")
            shape = tuple(s.shape[:2])
            s = s.detach().to("cpu", torch.float32)
            if kernels.enabled(s):  # one compiled pass
                first = kernels.invalid_count(s)
                bad = None if first < 0 else s.reshape(-1)[first]
            elif not bool(torch.isfinite(s).all()) or bool((s < 0).any()) or bool((s != s.round()).any()):
                bad = s[~torch.isfinite(s) | (s < 0) | (s != s.round())][0]
            else:
                bad = None
            if bad is not None:
                # the chip sends events: so many spikes per neuron and step, never a fraction of one
                raise InputError(f"input {name!r} must hold spike counts (whole numbers >= 0), as the chip sends "
                                 f"events; found {float(bad):g} (the mock also takes graded values, the chip not)")
            out[name] = s
        if shape is None:
            raise InputError("this configuration has no input population, so there is no batch to run; add one "
                             "(its spikes may all be zero) to give the runs and their number")
        if shape[1] == 0:
            raise InputError(f"the batch is empty: inputs of shape {tuple(inputs[next(iter(sizes))].shape)}; give at "
                             "least one entry (time, batch >= 1, neurons)")
        total = shape[0]
        if steps is None:
            steps = total
        elif isinstance(steps, (bool, float)) or not isinstance(steps, numbers.Integral):
            raise InputError(f"steps (the runtime in time steps) must be an integer; got {steps!r}")
        steps = int(steps)
        if steps <= 0:
            raise InputError(f"the runtime must be at least one time step; got {steps}")
        for name, s in out.items():
            late = s[steps:].nonzero()
            if late.numel():
                raise InputError(f"input {name!r} has spikes at step {int(late[0, 0]) + steps}, beyond the runtime of "
                                 f"{steps} steps ({steps * self.dt * 1e6:g} µs); they cannot be sent")
        return out, steps, shape[1]

    def _run_chunk(self, inputs: Mapping[str, torch.Tensor], steps: int, cadc_times: torch.Tensor,
                   generator: torch.Generator, batch_offset: int, cadc_populations: Sequence[str]):
        batch = cadc_times.shape[0]
        # per population: its traces (membrane after each step, net synaptic current before, clamp, spike
        # step), or, from the compiled feed-forward run, its spikes, spike events and the state at the CADC
        # samples' steps
        trace: dict[str, dict] = {}
        spikes_of: dict[str, torch.Tensor] = dict(inputs)
        cadc_step = self._grid_step(cadc_times, steps)
        try:
            for group in self._order:
                trace.update(self._integrate(group, spikes_of, steps, batch, cadc_step, cadc_populations))
                for name in group:
                    spikes_of[name] = trace[name]["spikes"]
            return self._read_out(trace, steps, batch, cadc_times, generator, batch_offset, cadc_populations)
        finally:  # the traces never leave this chunk: their buffers serve the next one
            for rec in trace.values():
                if rec.get("workspace"):
                    WORKSPACE.give(*(rec[k] for k in ("membrane", "net", "clamped", "spikes") if k in rec and
                                     isinstance(rec[k], torch.Tensor)), *rec.get("samples", ()))

    def _read_out(self, trace: dict, steps: int, batch: int, cadc_times: torch.Tensor, generator: torch.Generator,
                  batch_offset: int, cadc_populations: Sequence[str]):
        """Spike events, CADC and MADC samples of one chunk from its traces."""
        spikes, cadc, madc = {}, {}, {}
        for name in self.config.populations:
            spikes[name] = self._spike_events(name, trace[name], batch_offset)
        for name in cadc_populations:
            cadc[name] = self._sample(name, trace[name], cadc_times, steps, generator, bits=self.spec.cadc_bits)
        for pop, neuron in self.madc:
            times = torch.arange(0.0, (steps - 1) * self.dt, 1.0 / self.spec.madc_sample_rate, dtype=torch.float64)
            sub = {k: (v[:, :, neuron:neuron + 1] if isinstance(v, torch.Tensor) and v.dim() == 3 else v)
                   for k, v in trace[pop].items()}
            codes = self._sample(pop, sub, times.expand(batch, -1), steps, generator, bits=self.spec.madc_bits,
                                 neurons=slice(neuron, neuron + 1))
            madc[(pop, neuron)] = (times, codes[:, :, 0].to(torch.int16))
        return spikes, cadc, madc

    def _input(self, name: str, spikes_of: Mapping[str, torch.Tensor], t: int, sources: list[str],
               delayed: set) -> tuple[torch.Tensor, torch.Tensor]:
        """Excitatory and inhibitory weight arriving at population `name` in step t (hardware units)."""
        exc = inh = 0.0
        for source in sources:
            step = t - 1 if source in delayed else t
            if step < 0 or spikes_of[source] is None:  # (a population that never spikes sends nothing)
                continue
            s = spikes_of[source][step]
            if (source, name) in self.delivery.excitatory:
                exc = exc + s @ self.delivery.excitatory[(source, name)].T
            if (source, name) in self.delivery.inhibitory:
                inh = inh + s @ self.delivery.inhibitory[(source, name)].T
        return exc, inh

    def _arrivals(self, name: str, spikes_of: Mapping[str, Optional[torch.Tensor]], sources: list[str]
                  ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Excitatory and inhibitory weight arriving at `name` in every step (T, B, N), from sources whose
        spikes are known for the whole run: one product per source instead of one per step. Summed in
        float64 (whole spike counts times float32 weights: exact, whatever the order) and rounded once,
        as the compiled feed-forward run (`kernels.chip_feedforward`) sums them."""
        totals: list[Optional[torch.Tensor]] = [None, None]
        for source in sources:
            s = spikes_of[source]
            if s is None:  # a population that never spikes sends nothing
                continue
            flat = s.reshape(-1, s.shape[-1])
            for k, delivered in enumerate((self.delivery.excitatory, self.delivery.inhibitory)):
                matrix = delivered.get((source, name))
                if matrix is None:
                    continue
                if totals[k] is None:
                    totals[k] = torch.zeros(*s.shape[:2], matrix.shape[0], dtype=torch.float64)
                if kernels.enabled(flat, matrix):  # sparse spikes: a weight row per spike
                    kernels.accumulate_spikes(flat, matrix.T, totals[k])
                else:
                    totals[k].view(flat.shape[0], -1).addmm_(flat.double(), matrix.double().T)
        return tuple(None if t is None else t.float() for t in totals)

    def _sending(self, name: str) -> list[str]:
        """`name`'s sources that send events (a population that never spikes sends nothing), in delivery order."""
        return [source for source in self.delivery.sources_of(name)
                if source in self.config.input_sizes or self._neurons[source].spiking]

    def _stacked_arrivals(self, name: str, spikes_of: dict[str, Any], steps: int, batch: int
                          ) -> tuple[torch.Tensor, ...]:
        """The spikes of `name`'s sending sources as rows for `kernels.chip_feedforward`, the sources numbered
        side by side in the order of `_sending`."""
        sources = self._sending(name)
        if len(sources) == 1 and isinstance(spikes_of[sources[0]], _Fired):
            return kernels.event_rows(spikes_of[sources[0]].events, steps, batch)
        _densify(spikes_of, sources)  # spike counts (T, B, M), several side by side
        spikes = [spikes_of[source] for source in sources] or [torch.zeros(steps, batch, 0)]
        return kernels.spike_rows(spikes[0] if len(spikes) == 1 else torch.cat(spikes, dim=2))

    def _compiled_population(self, name: str) -> kernels.FeedforwardPopulation:
        """`name`'s weights (its sending sources side by side) and parameters for the compiled run, prepared once
        per configuration (the parameters once while the neurons stay)."""
        prepared = self._prepared.get(name)
        if prepared is None:
            n = self._neurons[name].leak.numel()
            sources = self._sending(name)
            sizes = [self.config.input_sizes[s] if s in self.config.input_sizes else self._neurons[s].leak.numel()
                     for s in sources]
            weights = []
            for delivered in (self.delivery.excitatory, self.delivery.inhibitory):
                found = [delivered.get((source, name)) for source in sources]
                weights.append(None if all(w is None for w in found) else
                               torch.cat([torch.zeros(n, size) if w is None else w for w, size in zip(found, sizes)],
                                         dim=1))
            prepared = self._prepared[name] = kernels.feedforward_population(*weights, self._compiled_neurons(name))
        return prepared

    def _compiled_neurons(self, name: str) -> kernels.FeedforwardNeurons:
        """`name`'s parameters for the compiled run, prepared once while the neurons stay."""
        prepared = self._prepared_neurons.get(name)
        if prepared is None:
            p = self._neurons[name]
            saturation = self.analog.saturation
            curve = (None if math.isinf(saturation) else
                     (saturation, SATURATION_NUMERATOR, SATURATION_DENOMINATOR, SATURATION_LIMIT))
            prepared = self._prepared_neurons[name] = kernels.feedforward_neurons(
                p.decay_exc, p.decay_inh, self.analog.synapse_gain, curve, (1 - p.decay_mem) * p.rest, p.decay_mem,
                p.input_gain, p.leak, p.low, p.high, p.spiking, p.threshold, p.reset, p.refractory)
        return prepared

    def _run_compiled(self, name: str, spikes_of: dict[str, Any], steps: int, batch: int,
                      cadc_step: torch.Tensor, record: bool) -> dict:
        """`_integrate_feedforward` as one compiled pass per batch entry (`kernels.chip_feedforward`): no
        traces, only the spike events with what their crossing time needs and (`record`) the state at the
        CADC samples' steps; the same bits as the torch loops."""
        p = self._neurons[name]
        n = p.leak.numel()
        sampled = tuple(WORKSPACE.take((batch, cadc_step.shape[1], n)) for _ in range(4)) if record else None
        events, values = kernels.chip_feedforward(self._compiled_population(name), steps, batch,
                                                  self._stacked_arrivals(name, spikes_of, steps, batch), cadc_step,
                                                  sampled)
        fired = _Fired(events, (steps, batch, n)) if p.spiking else None
        return {name: {"spikes": fired, "events": (events, values), "samples": sampled or (), "workspace": True}}

    def _integrate_feedforward(self, name: str, spikes_of: dict[str, torch.Tensor], steps: int, batch: int,
                               cadc_step: torch.Tensor, record: bool) -> dict:
        """`_integrate` for one LIF/LI population whose inputs are all known beforehand (no recurrence, no
        AdEx): the synaptic currents do not depend on the membrane, so they are filtered for the whole run
        first and saturated in one operation; the step loop is left with the membrane and the spikes. The
        same operations in the same order as `_integrate`, so the result is the same to the bit. Compiled
        (`_run_compiled`) where the kernels run and no MADC reads the population (the MADC needs traces)."""
        p = self._neurons[name]
        n = p.leak.numel()
        if kernels.enabled(p.leak) and all(pop != name for pop, _ in self.madc):
            return self._run_compiled(name, spikes_of, steps, batch, cadc_step, record)
        _densify(spikes_of, self.delivery.sources_of(name))
        arrivals = self._arrivals(name, spikes_of, self.delivery.sources_of(name))
        net = WORKSPACE.take((steps, batch, n))
        gain = self.analog.synapse_gain
        fused = kernels.enabled(net, p.leak)  # the loops below compiled (hxgraph.kernels), the same to the bit
        if fused:
            kernels.synaptic_filter(*arrivals, p.decay_exc, p.decay_inh, gain, net)
        exc, inh = torch.zeros(batch, n), torch.zeros(batch, n)
        for t in range(0 if fused else steps):
            torch.sub(exc, inh, out=net[t])  # drives the membrane during (t-1, t]
            for state, decay, arrived in ((exc, p.decay_exc, arrivals[0]), (inh, p.decay_inh, arrivals[1])):
                state.mul_(decay)
                if arrived is not None:
                    state.add_(arrived[t], alpha=gain)
        saturation = self.analog.saturation
        if not math.isinf(saturation):
            saturate_(net, saturation)
        # a spiking population writes its clamp and spike masks in every step; others keep them at 0
        shape, zero = (steps, batch, n), not p.spiking
        rec = {"membrane": WORKSPACE.take(shape), "net": net, "clamped": WORKSPACE.take(shape, zero=zero),
               "spikes": WORKSPACE.take(shape, zero=zero), "workspace": True}
        rest = (1 - p.decay_mem) * p.rest
        rails = (p.low, p.high) if math.isfinite(p.low) or math.isfinite(p.high) else None
        if fused:
            kernels.chip_membrane(net, rest, p.decay_mem, p.input_gain, p.leak, p.low, p.high, p.spiking, p.threshold,
                                  p.reset, p.refractory, rec["membrane"], rec["clamped"], rec["spikes"])
        v_prev = p.leak.expand(batch, -1)
        ref = torch.zeros(batch, n)
        reset, refractory = p.reset.expand(batch, -1), p.refractory.expand(batch, -1)
        for t in range(0 if fused else steps):
            v = rec["membrane"][t]
            torch.addcmul(rest, v_prev, p.decay_mem, out=v).addcmul_(net[t], p.input_gain)
            if rails is not None:
                v.clamp_(*rails)
            if p.spiking:
                spiked = torch.sub(v, p.threshold, out=rec["spikes"][t]).gt_(0)
                clamped = torch.sign(ref, out=rec["clamped"][t])  # the counter is >= 0
                v.lerp_(reset, torch.maximum(spiked, clamped))
                spiked.sub_(clamped).clamp_(min=0)  # 0/1 masks: spiked · (1 - clamped)
                ref = torch.lerp(ref.sub_(clamped).clamp_(min=0), refractory, spiked)
            v_prev = v
        return {name: rec}

    def _integrate(self, group: list[str], spikes_of: dict[str, torch.Tensor], steps: int, batch: int,
                   cadc_step: torch.Tensor, cadc_populations: Sequence[str]) -> dict:
        if len(group) == 1 and self._neurons[group[0]].adex is None and group[0] not in self.delivery.sources_of(group[0]):
            return self._integrate_feedforward(group[0], spikes_of, steps, batch, cadc_step,
                                               group[0] in cadc_populations)
        gain = self.analog.synapse_gain
        saturation = self.analog.saturation
        params = {n: self._neurons[n] for n in group}
        sources = {n: self.delivery.sources_of(n) for n in group}
        for n in group:
            _densify(spikes_of, sources[n])
        delayed = set(group)
        state = {}
        for n, p in params.items():
            zeros = torch.zeros(batch, p.leak.numel())
            state[n] = {"v": p.leak.expand(batch, -1).clone(), "exc": zeros.clone(), "inh": zeros.clone(),
                        "ref": zeros.clone(), "w": zeros.clone()}
        rec = {n: {k: torch.zeros(steps, batch, params[n].leak.numel()) for k in
                   ("membrane", "net", "clamped", "spikes") + (("extra",) if params[n].adex else ())}
               for n in group}
        for n in group:
            if params[n].spiking:
                spikes_of[n] = rec[n]["spikes"]  # filled step by step: the group's own delayed spikes
        # Loop-invariant parts of the grid map v' = decay·v + (1 - decay)·leak + input_gain·net.
        rest = {n: (1 - p.decay_mem) * p.rest for n, p in params.items()}
        rails = {n: (p.low, p.high) for n, p in params.items() if math.isfinite(p.low) or math.isfinite(p.high)}
        for t in range(steps):
            for n in group:
                p, st, r = params[n], state[n], rec[n]
                exc, inh = self._input(n, spikes_of, t, sources[n], delayed)
                net = torch.sub(st["exc"], st["inh"], out=r["net"][t])  # drives the membrane during (t-1, t]
                if not math.isinf(saturation):
                    saturate_(net, saturation)
                v = torch.addcmul(rest[n], st["v"], p.decay_mem).addcmul_(net, p.input_gain)
                if p.adex is not None:
                    extra = p.adex.drive(st["v"], st["w"], p.input_gain)
                    r["extra"][t] = extra
                    v = v + extra
                if n in rails:
                    v.clamp_(*rails[n])
                st["exc"].mul_(p.decay_exc).add_(exc, alpha=gain)
                st["inh"].mul_(p.decay_inh).add_(inh, alpha=gain)
                if p.spiking:
                    # Float 0/1 masks throughout: on CPU they are several times faster than bool masks.
                    spiked = torch.sub(v, p.threshold, out=r["spikes"][t]).gt_(0)
                    clamped = torch.sign(st["ref"], out=r["clamped"][t])  # the counter is >= 0
                    before = v
                    # Reset, or hold at reset during the refractory time (lerp with weight 1 gives reset exactly).
                    v = torch.lerp(v, p.reset.expand_as(v), torch.maximum(spiked, clamped))
                    spiked.mul_(1 - clamped)
                    st["ref"] = torch.lerp((st["ref"] - clamped).clamp_(min=0), p.refractory.expand_as(v), spiked)
                    if p.adex is not None:  # from the membrane before the reset, and the emitted spikes
                        capped = torch.minimum(before, p.threshold)  # as the mock: the membrane at the threshold
                        st["w"] = (st["w"] * p.adex.decay + p.adex.gain * p.adex.a * (capped - p.leak)
                                   + p.adex.b * spiked)
                st["v"] = v
                r["membrane"][t] = v
        return rec

    # ------------------------------------------------------------------ readout
    def _grid_step(self, times: torch.Tensor, steps: int) -> torch.Tensor:
        """The grid step whose interval ((step - 1)·dt, step·dt] holds each time (seconds)."""
        return torch.ceil(times / self.dt - 1e-9).long().clamp(0, steps - 1)

    def _state_at(self, p: _Neurons, rec: dict, step: torch.Tensor, b: torch.Tensor, neurons: Any
                  ) -> tuple[torch.Tensor, ...]:
        """Membrane at the grid point before `step` (the leak before step 0), the net current, clamp and spike
        masks of `step`, and the potential the membrane relaxes to during it, for entries `b`: read from the
        traces, or, from the compiled run, the state it recorded at the CADC samples' steps."""
        if "membrane" not in rec:  # the compiled run's: recorded at exactly these steps (the CADC samples')
            v0, net, clamped, spiked = rec["samples"]
            return v0, net, clamped, spiked, p.rest[neurons]
        v0 = rec["membrane"][(step - 1).clamp(min=0), b]  # (at step 0 the caller puts the leak)
        return (v0, rec["net"][step, b], rec["clamped"][step, b], rec["spikes"][step, b],
                self._rest(p, rec, step, b, neurons))

    def _membrane_between(self, name: str, rec: dict, step: torch.Tensor, tau: torch.Tensor,
                          neurons: slice = slice(None)) -> torch.Tensor:
        """Membrane at time `(step - 1)·dt + tau` (0 < tau <= dt) for (B, S) sample times."""
        p = self._neurons[name]
        b = torch.arange(step.shape[0])[:, None].expand_as(step)
        v0, net, clamped, spiked, rest = self._state_at(p, rec, step, b, neurons)
        state = [x.contiguous() for x in (v0, net, clamped, spiked)]
        if kernels.enabled(*state, p.leak) and rest.dim() == 1:  # (AdEx: a rest per sample, the torch code)
            close, safe = (x[neurons] for x in p.psc_rate)
            return kernels.cadc_membrane(step, tau, *state, *(x[neurons] for x in (
                p.rest, p.tau_mem, p.tau_syn, p.kappa)), close, safe,
                *(x[neurons] for x in (p.leak, p.reset, p.threshold)), p.spiking, p.low, p.high, EXP_CONSTANTS)
        v = subthreshold(v0, net, rest, p.tau_mem[neurons], p.tau_syn[neurons],
                         p.kappa[neurons], tau[..., None].float()).clamp(p.low, p.high)
        v = torch.where(step[..., None] == 0, p.leak[neurons].expand_as(v), v)
        if p.spiking:
            reset = p.reset[neurons].expand_as(v)
            v = torch.where(clamped > 0, reset, v)
            # In a step that ends with a spike the circuit resets where it crossed the threshold.
            v = torch.where((spiked > 0) & (v > p.threshold[neurons]), reset, v)
        return v

    def _sample(self, name: str, rec: dict, times: torch.Tensor, steps: int, generator: torch.Generator, bits: int,
                neurons: slice = slice(None)) -> torch.Tensor:
        """Codes of an ADC with `bits` bits sampling the membrane at `times` (B, S) seconds of a run of `steps`."""
        step = self._grid_step(times, steps)
        tau = times - (step - 1).double() * self.dt
        v = self._membrane_between(name, rec, step, tau, neurons)
        scale = 2 ** (bits - self.spec.cadc_bits)  # the MADC resolves the CADC's range 4× finer
        noise = torch.randn(v.shape, generator=generator) * (self.analog.readout_noise * scale)
        codes = torch.round(v * scale + noise).clamp(0, 2 ** bits - 1)
        return codes.to(torch.uint8 if bits <= 8 else torch.int16)

    def _spike_events(self, name: str, rec: dict, batch_offset: int) -> torch.Tensor:
        """(batch, neuron, clock tick) of every spike, at the time the membrane crossed the threshold; ordered
        by batch entry, then step, then neuron."""
        p = self._neurons[name]
        if not p.spiking:
            return torch.zeros(0, 3, dtype=torch.int64)
        if "events" in rec:  # the compiled run's, with the state they need
            found, values = rec["events"]
            b, t, n = found.unbind(1)
            v0, net = values.unbind(1)
            if t.numel() and kernels.enabled(v0, p.rest):  # (the compiled search takes the neurons' parameters)
                ticks = kernels.crossing_ticks(t, n, v0.contiguous(), net.contiguous(), p.rest, p.tau_mem, p.tau_syn,
                                               p.kappa, *p.psc_rate, p.threshold, p.low, p.high, self.dt,
                                               self.spec.clock_period, EXP_CONSTANTS)
                return torch.stack([b + batch_offset, n, ticks], dim=1)
            rest = p.rest[n]
        else:
            b, t, n = rec["spikes"].transpose(0, 1).nonzero().unbind(1)
            v0 = torch.where(t > 0, rec["membrane"][(t - 1).clamp(min=0), b, n], p.leak[n])
            net, rest = rec["net"][t, b, n], self._rest(p, rec, t, b, n)
        if t.numel() == 0:
            return torch.zeros(0, 3, dtype=torch.int64)
        # The spike carries the first clock tick of step t (ticks k with (t-1)·dt < k·clock <= t·dt) at which
        # the exact solution is above the threshold: bisected over the ticks, which the step's end (the
        # grid point, above by definition) bounds. t = 0 has no earlier state: tick 0.
        clock = self.spec.clock_period
        start = (t - 1).double() * self.dt
        lo = torch.floor(start / clock + 1e-6).long()              # the last tick of the previous step
        hi = torch.ceil((start + self.dt) / clock - 1e-6).long()   # the step's last tick
        v0, net = v0.contiguous(), net.contiguous()  # (the compiled run's events hold them as strided columns)
        if kernels.enabled(v0, net, rest):  # (each spike its own "neuron": the parameters gathered per spike)
            ticks = kernels.crossing_ticks(t, torch.arange(n.shape[0]), v0, net, rest, p.tau_mem[n], p.tau_syn[n],
                                           p.kappa[n], *(x[n] for x in p.psc_rate), p.threshold[n], p.low, p.high,
                                           self.dt, clock, EXP_CONSTANTS)
            return torch.stack([b + batch_offset, n, ticks], dim=1)
        at = self._membrane_of(p, n, v0, net, rest)
        threshold = p.threshold[n]
        while True:
            open_ = hi - lo > 1
            if not bool(open_.any()):
                break
            mid = torch.where(open_, (lo + hi) // 2, hi)
            v = at((mid.double() * clock - start).clamp(min=0.0))
            above = (v > threshold) | ~open_
            hi = torch.where(above, mid, hi)
            lo = torch.where(above, lo, mid)
        ticks = torch.where(t > 0, hi, torch.zeros_like(hi))
        return torch.stack([b + batch_offset, n, ticks], dim=1)

    @staticmethod
    def _membrane_of(p: _Neurons, n: torch.Tensor, v0: torch.Tensor, net: torch.Tensor, rest: torch.Tensor
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
        """The sub-threshold membrane of single spikes of neurons `n` (state before the step `v0`, net
        current `net`, rest `rest`) as a function of the time `tau` into the step (no reset)."""
        tau_mem, tau_syn, kappa = p.tau_mem[n], p.tau_syn[n], p.kappa[n]
        # `subthreshold` with its parts that do not depend on tau evaluated once (the same operations on the
        # same values, so the same bits): the search calls this several times
        start, drive = v0 - rest, kappa * net
        close, safe = (x[n] for x in p.psc_rate)

        def membrane(tau: torch.Tensor) -> torch.Tensor:
            tau = tau.float()
            decay = exp_(-tau / tau_mem)
            integral = torch.where(close, tau * decay, (exp_(-tau / tau_syn) - decay) / safe)
            return (rest + start * decay + drive * integral).clamp(p.low, p.high)
        return membrane

    def _rest(self, p: _Neurons, rec: dict, step: torch.Tensor, b: torch.Tensor, neurons: Any) -> torch.Tensor:
        """The potential the membrane relaxes to during `step`: the AdEx terms act as a constant
        current over the step (evaluated at its start), which shifts the rest like the constant
        current source does (so the solution at the grid point is the grid map's)."""
        if p.adex is None:
            return p.rest[neurons]
        # (a slice of neurons comes with the trace already cut to it, as the MADC path passes it)
        extra = rec["extra"][step, b] if isinstance(neurons, slice) else rec["extra"][step, b, neurons]
        return p.rest[neurons] + extra / (1 - p.decay_mem[neurons])
