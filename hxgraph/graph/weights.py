"""Weight initializers and software-to-hardware weight transforms, as serializable values.

Both are small frozen objects rather than closures so that a graph stores *which*
initializer and transform a projection uses and the JSON form can name them exactly.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any, Callable, ClassVar, Optional

import attrs
import numpy as np
import torch

from hxgraph.errors import ParameterError, SerializationError, ShapeError
from hxgraph.graph.reading import describe, expect_keys, read_number, read_object
from hxgraph.graph.values import is_finite, tensor_from_json, tensor_to_json, values_equal


def _finite(what: str):
    def check(instance: Any, attribute: attrs.Attribute, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not is_finite(value):
            raise ParameterError(f"{what}: {attribute.name} must be a finite number; got {describe(value)}")
    return check


class Initializer:
    """Draws initial weights: `init(count, fan_in, generator)` returns `count` float32 values.

    A dense projection draws out×in values (row-major over (out, in)); a sparse one draws
    one value per connection, so memory stays proportional to the connections.
    """

    kind: ClassVar[str]

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def to_json(self) -> dict:
        return {"kind": self.kind, **attrs.asdict(self)}


@attrs.frozen
class KaimingUniform(Initializer):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's Kaiming-uniform with a = sqrt(5), hxtorch's default."""

    kind: ClassVar[str] = "kaiming_uniform"

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        bound = 1.0 / math.sqrt(fan_in)
        return torch.empty(count).uniform_(-bound, bound, generator=generator)


@attrs.frozen
class Normal(Initializer):
    """Normal distribution with the given mean and standard deviation."""

    kind: ClassVar[str] = "normal"
    mean: float = attrs.field(default=0.0, validator=_finite("hxgraph.init.normal"))
    std: float = attrs.field(default=1.0, validator=_finite("hxgraph.init.normal"))

    def __attrs_post_init__(self) -> None:
        if self.std < 0:
            raise ParameterError(f"hxgraph.init.normal: std must be >= 0; got {self.std}")

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        return torch.empty(count).normal_(self.mean, self.std, generator=generator)


@attrs.frozen
class Uniform(Initializer):
    """Uniform distribution on [low, high)."""

    kind: ClassVar[str] = "uniform"
    low: float = attrs.field(default=-1.0, validator=_finite("hxgraph.init.uniform"))
    high: float = attrs.field(default=1.0, validator=_finite("hxgraph.init.uniform"))

    def __attrs_post_init__(self) -> None:
        if not self.low < self.high:
            raise ParameterError(
                f"hxgraph.init.uniform: low must be < high; got low={self.low}, high={self.high}")

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        return torch.empty(count).uniform_(self.low, self.high, generator=generator)


@attrs.frozen
class Constant(Initializer):
    """Every weight equal to `value`."""

    kind: ClassVar[str] = "constant"
    value: float = attrs.field(validator=_finite("hxgraph.init.constant"))

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        return torch.full((count,), float(self.value))


@attrs.frozen(eq=False)
class FromTensor(Initializer):
    """Weights copied from a given tensor: (out, in) for dense, (out, in) or (connections,) for sparse."""

    kind: ClassVar[str] = "from_tensor"
    tensor: torch.Tensor = attrs.field(converter=lambda t: torch.as_tensor(t).detach().cpu().clone())

    def __call__(self, count: int, fan_in: int, generator: torch.Generator) -> torch.Tensor:
        # Projections read `tensor` directly (they know the connectivity); this is the flat fallback.
        if self.tensor.numel() != count:
            raise ShapeError(f"hxgraph.init.from_tensor: tensor has {self.tensor.numel()} entries, need {count}")
        return self.tensor.reshape(-1).clone()

    def to_json(self) -> dict:
        return {"kind": self.kind, "tensor": tensor_to_json(self.tensor)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FromTensor) and values_equal(self.tensor, other.tensor)

    __hash__ = None  # type: ignore[assignment]


INITIALIZERS: dict[str, type] = {cls.kind: cls for cls in (KaimingUniform, Normal, Uniform, Constant, FromTensor)}


def initializer_from_json(obj: Any, where: str) -> Initializer:
    cls = _kind_from_json(obj, where, INITIALIZERS, "initializer")
    if cls is FromTensor:
        expect_keys(obj, {"kind", "tensor"}, where)
        return FromTensor(tensor_from_json(obj["tensor"], f"{where}.tensor"))
    return _value_object_from_json(cls, obj, where)


def _kind_from_json(obj: Any, where: str, kinds: dict[str, type], what: str) -> type:
    """The class an {"kind": ...} object names (initializer or transform)."""
    obj = read_object(obj, where)
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise SerializationError(f"{where}.kind: expected one of the {what} kinds ({', '.join(kinds)}); "
                                 f"got {describe(kind)}")
    if kind not in kinds:
        raise SerializationError(f"{where}: unknown {what} {kind!r}; known kinds: {', '.join(kinds)}")
    return kinds[kind]


def _value_object_from_json(cls: type, obj: dict, where: str) -> Any:
    """An initializer or transform whose fields are all numbers (None where the default is None)."""
    fields = {a.name: a for a in attrs.fields(cls)}
    unexpected = sorted(set(obj) - set(fields) - {"kind"})
    if unexpected:
        raise SerializationError(f"{where}: unexpected {unexpected} for {obj['kind']!r} (its fields: "
                                 f"{sorted(fields) or 'none'})")
    values = {}
    for name, value in obj.items():
        if name != "kind":
            optional = fields[name].default is None
            values[name] = None if optional and value is None else read_number(value, f"{where}.{name}")
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise SerializationError(f"{where}: bad fields for {obj['kind']!r}: {exc}") from exc


def derive_seed(seed: int, name: str) -> int:
    """A per-projection seed from the experiment seed and the projection name.

    Hashing the name (not the creation index) keeps a projection's weights unchanged when
    other projections are added or removed.
    """
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


# ------------------------------------------------------------------------ transforms

def linear_saturating(weight: torch.Tensor, scale: float = 1.0, min_weight: float = -63.0,
                      max_weight: float = 63.0) -> torch.Tensor:
    """Software weight → hardware weight: `clamp(scale * weight, min_weight, max_weight)`."""
    return torch.clamp(scale * weight, min_weight, max_weight)


@attrs.frozen
class LinearSaturating:
    """Serializable form of `linear_saturating` with fixed options; the default transform.

    `scale=None` (the default of a projection that names no transform) leaves the scale to
    the chip's calibration: when the graph is mapped, it becomes the calibration's weight
    scale, the one that makes a hardware weight act like the model weight
    (`hxgraph.chip.Calibration.weight_scale`). A number fixes it, as in hxtorch.
    """

    kind: ClassVar[str] = "linear_saturating"
    scale: Optional[float] = attrs.field(default=None, validator=attrs.validators.optional(_finite("linear_saturating")))
    min_weight: float = attrs.field(default=-63.0, validator=_finite("linear_saturating"))
    max_weight: float = attrs.field(default=63.0, validator=_finite("linear_saturating"))

    def __attrs_post_init__(self) -> None:
        if not self.min_weight < self.max_weight:
            raise ParameterError(
                f"linear_saturating: min_weight must be < max_weight; got {self.min_weight}, {self.max_weight}")

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            raise ParameterError(
                "this LinearSaturating leaves its scale to the chip's calibration; resolve it first with "
                "hxgraph.chip.Calibration().resolve_transform(transform), or give scale=...")
        if (isinstance(weight, torch.Tensor) and weight.device.type == "cpu" and weight.layout == torch.strided
                and weight.dtype in (torch.float32, torch.float64) and not weight.is_neg() and not weight.is_conj()
                and not (weight.requires_grad and torch.is_grad_enabled())):
            # No gradient to keep: numpy's single-threaded loops give the same values (the scale rounded to
            # the weight's dtype, as torch does) without waking torch's threads, which stall for milliseconds
            # when another process holds a core.
            values = weight.detach().numpy()
            return torch.from_numpy(np.asarray(np.clip(values * values.dtype.type(self.scale), self.min_weight,
                                                       self.max_weight)))
        return linear_saturating(weight, self.scale, self.min_weight, self.max_weight)

    def to_json(self) -> dict:
        return {"kind": self.kind, **attrs.asdict(self)}


TRANSFORMS: dict[str, type] = {LinearSaturating.kind: LinearSaturating}


def as_transform(transform: Any, where: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Accept None (default), a transform value, `linear_saturating` or a partial of it, or any callable.

    Partials of `linear_saturating` (how hxtorch scripts set a scale) become `LinearSaturating`
    so they serialize; other callables are kept as given but cannot be written to JSON.
    """
    if transform is None:
        return LinearSaturating()  # the scale is the chip calibration's
    if transform is linear_saturating:
        return LinearSaturating(scale=1.0)  # the function's own default scale, as in hxtorch
    if isinstance(transform, functools.partial) and transform.func is linear_saturating and not transform.args:
        return LinearSaturating(**{"scale": 1.0, **{k: float(v) for k, v in transform.keywords.items()}})
    if not callable(transform):
        raise ParameterError(
            f"{where}: transform must be callable (weight tensor → hardware weight tensor), e.g. "
            f"hxgraph.transforms.LinearSaturating(scale=64); got {transform!r}")
    return transform


def transform_to_json(transform: Any, where: str) -> dict:
    if isinstance(transform, LinearSaturating):
        return transform.to_json()
    raise SerializationError(
        f"{where}: the weight transform {transform!r} is a custom callable and cannot be stored "
        f"in JSON (stored files never contain code); use a serializable transform such as "
        f"hxgraph.transforms.LinearSaturating(scale=...)")


def transform_from_json(obj: Any, where: str) -> LinearSaturating:
    return _value_object_from_json(_kind_from_json(obj, where, TRANSFORMS, "transform"), obj, where)
