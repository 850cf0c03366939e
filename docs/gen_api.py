"""Generate docs/api.md, the API reference, from the package's docstrings and signatures.

Run `python docs/gen_api.py` after changing a public name, signature or docstring;
`python docs/gen_api.py --check` exits with status 1 when docs/api.md is stale (the test
suite runs that check). It walks `hxgraph.__all__` and the public subpackages and modules
(each one's `__all__`, or the public names defined in it) with `inspect`: no Sphinx needed.
Every object is documented once, in the section of the module it is defined in; other
sections link there.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import sys
import types
from pathlib import Path
from typing import Any, Optional, Sequence

API = Path(__file__).resolve().parent / "api.md"
SKIP_MODULES = {"hxgraph.cli", "hxgraph.__main__", "hxgraph.errors", "hxgraph.builder", "hxgraph.loop",
                "hxgraph.observables"}  # their public names are re-exported by hxgraph itself
HEADER = """# API reference

Generated from the docstrings by `python docs/gen_api.py` (the test suite fails when this file
is stale). `import hxgraph as hx`: the names of the first table are available as `hx.<name>`.
The user guide is [guide.md](guide.md).
"""


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _clean(text: str) -> str:
    """Remove memory addresses from reprs, so the file is the same on every run."""
    text = re.sub(r"<(function|built-in function|bound method) ([\w.<>]+) at 0x[0-9a-f]+>", r"<\1 \2>", text)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


class _Plain:
    """An annotation shown as written (string annotations would otherwise be quoted)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _plain(annotation: Any) -> Any:
    return _Plain(annotation.strip("'\"")) if isinstance(annotation, str) else annotation


def _signature(obj: Any) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = [p.replace(annotation=_plain(p.annotation)) for p in sig.parameters.values()]
    sig = sig.replace(parameters=params, return_annotation=_plain(sig.return_annotation))
    return _clean(str(sig))


def _doc(obj: Any) -> str:
    return _clean(inspect.getdoc(obj) or "").strip()


def _first_paragraph(obj: Any) -> str:
    return " ".join(_doc(obj).split("\n\n")[0].split())


def public_modules() -> list[types.ModuleType]:
    """hxgraph, then its public subpackages and modules in name order (packages without names: their children)."""
    import hxgraph

    found: list[types.ModuleType] = [hxgraph]

    def visit(package: types.ModuleType) -> None:
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            name = f"{package.__name__}.{info.name}"
            if info.name.startswith("_") or name in SKIP_MODULES:
                continue
            module = importlib.import_module(name)
            if _names(module):
                found.append(module)
            elif info.ispkg:
                visit(module)

    visit(hxgraph)
    return found


def _names(module: types.ModuleType) -> list[str]:
    """The module's public names: `__all__`, or the classes and functions defined in it."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__]


def _homes(modules: Sequence[types.ModuleType]) -> dict[int, str]:
    """Where each class and function is documented: among the sections that list it, the one whose
    module name is the longest prefix of the module it is defined in (else the first that lists it)."""
    listed: dict[int, list[str]] = {}
    for module in modules:
        for name in _names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                listed.setdefault(id(obj), []).append(module.__name__)
    homes = {}
    for module in modules:
        for name in _names(module):
            obj = getattr(module, name)
            if id(obj) in listed and id(obj) not in homes:
                own = getattr(obj, "__module__", "") or ""
                prefixes = [m for m in listed[id(obj)] if own == m or own.startswith(m + ".")]
                homes[id(obj)] = max(prefixes, key=len) if prefixes else listed[id(obj)][0]
    return homes


def _members(cls: type) -> list[str]:
    lines = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            lines.append(f"- `{name}` (property): {_first_paragraph(value)}".rstrip(": "))
        elif isinstance(value, (classmethod, staticmethod)):
            func = value.__func__
            kind = "classmethod" if isinstance(value, classmethod) else "staticmethod"
            lines.append(f"- `{name}{_signature(getattr(cls, name))}` ({kind}): {_first_paragraph(func)}".rstrip(": "))
        elif inspect.isfunction(value):
            lines.append(f"- `{name}{_signature(value)}`: {_first_paragraph(value)}".rstrip(": "))
    return lines


def _entry(qualified: str, obj: Any) -> list[str]:
    lines = [f"### {qualified}", ""]
    if inspect.isclass(obj):
        lines += [f"class `{obj.__name__}{_signature(obj)}`", ""]
        if _doc(obj):
            lines += [_doc(obj), ""]
        members = _members(obj)
        if members:
            lines += members + [""]
    elif callable(obj):
        lines += [f"`{obj.__name__}{_signature(obj)}`", ""]
        if _doc(obj):
            lines += [_doc(obj), ""]
    else:
        text = _clean(repr(obj))
        lines += [f"`{qualified.rsplit('.', 1)[1]} = {text if len(text) <= 160 else text[:157] + '...'}`", ""]
    return lines


def generate() -> str:
    """The text of docs/api.md."""
    modules = public_modules()
    homes = _homes(modules)
    sections = {m.__name__ for m in modules}
    out = [HEADER]
    # Contents.
    out += ["## Contents", ""]
    out += [f"- [{m.__name__}](#{slug(m.__name__)}): {_first_paragraph(m)}" for m in modules]
    out.append("")
    for module in modules:
        out += [f"## {module.__name__}", ""]
        if _doc(module):
            out += [_doc(module), ""]
        rows, entries = [], []
        for name in _names(module):
            obj = getattr(module, name)
            qualified = f"{module.__name__}.{name}"
            if isinstance(obj, types.ModuleType):
                where = f"[{obj.__name__}](#{slug(obj.__name__)})" if obj.__name__ in sections else f"`{obj.__name__}`"
                rows.append(f"| `{name}` | module: {where}: {_first_paragraph(obj)} |")
                continue
            home = homes.get(id(obj))
            if home is not None and home != module.__name__:
                target = f"{home}.{obj.__name__}"
                rows.append(f"| `{name}` | [{target}](#{slug(target)}): {_first_paragraph(obj)} |")
                continue
            rows.append(f"| `{name}` | [{qualified}](#{slug(qualified)}): {_first_paragraph(obj)} |")
            entries += _entry(qualified, obj)
        if rows:
            out += ["| name | what |", "|---|---|"] + [row.replace("\n", " ") for row in rows] + [""]
        out += entries
    text = "\n".join(out).rstrip() + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is not what would be generated")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = API.read_text(encoding="utf-8") if API.exists() else ""
        if current != text:
            print(f"{API} is stale: run `python docs/gen_api.py`", file=sys.stderr)
            return 1
        return 0
    API.write_text(text, encoding="utf-8")
    print(f"wrote {API} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
