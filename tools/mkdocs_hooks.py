"""MkDocs hooks of hxgraph's documentation site (mkdocs.yml names this file under `hooks:`).

Three things the site needs that no plugin does the way we want:

- The API reference, one page per public module, generated at build time from the package
  itself (so a new module or name cannot be forgotten): `hxgraph` and its public subpackages
  and modules, each listing its public names (`__all__`, or the classes and functions defined
  in it). mkdocstrings renders every object once, on the page of the module it belongs to; the
  other pages that export it link there (the rule hxgraph's former docs/gen_api.py used).
- The notebooks in notebooks/ (outside docs/) as pages; mkdocs-jupyter executes them.
- The gallery (docs/gallery.md): its code blocks run in order in one namespace, and each block
  whose last statement evaluates to a matplotlib Figure gets that figure, drawn now, below it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import shutil
import tempfile
import types
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GALLERY = "gallery.md"
API_NAV_TITLE = "API reference"
# Modules whose public names hxgraph itself re-exports (documented there), and the CLI entry point.
SKIP_MODULES = {"hxgraph.cli", "hxgraph.__main__", "hxgraph.errors", "hxgraph.builder", "hxgraph.loop",
                "hxgraph.observables"}
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```\n", flags=re.DOTALL | re.MULTILINE)


# --- the API reference -------------------------------------------------------------------------

def public_names(module: types.ModuleType) -> list[str]:
    """The module's public names: `__all__`, or the classes and functions defined in it."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__]


def public_modules() -> list[types.ModuleType]:
    """hxgraph, then its public subpackages and modules in name order (a package without public
    names of its own is skipped, its children are not)."""
    import hxgraph

    found: list[types.ModuleType] = [hxgraph]

    def visit(package: types.ModuleType) -> None:
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            name = f"{package.__name__}.{info.name}"
            if info.name.startswith("_") or name in SKIP_MODULES:
                continue
            module = importlib.import_module(name)
            if public_names(module):
                found.append(module)
            elif info.ispkg:
                visit(module)

    visit(hxgraph)
    return found


def homes(modules: list[types.ModuleType]) -> dict[int, str]:
    """Where each class and function is documented: among the modules that list it, the one whose
    name is the longest prefix of the module it is defined in (else the first that lists it)."""
    listed: dict[int, list[str]] = {}
    for module in modules:
        for name in public_names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                listed.setdefault(id(obj), []).append(module.__name__)
    found: dict[int, str] = {}
    for module in modules:
        for name in public_names(module):
            obj = getattr(module, name)
            if id(obj) in listed and id(obj) not in found:
                own = getattr(obj, "__module__", "") or ""
                prefixes = [m for m in listed[id(obj)] if own == m or own.startswith(m + ".")]
                found[id(obj)] = max(prefixes, key=len) if prefixes else listed[id(obj)][0]
    return found


def page_uri(module_name: str) -> str:
    """The API page of a module; hxgraph's own page is the reference's first page."""
    return "api/index.md" if module_name == "hxgraph" else f"api/{module_name}.md"


def _summary(obj: Any) -> str:
    """The first paragraph of a docstring on one line, safe inside a table cell."""
    text = (inspect.getdoc(obj) or "").strip().split("\n\n")[0]
    return " ".join(text.split()).replace("|", "\\|")


def _value(obj: Any, limit: int = 400) -> str:
    """repr of a constant without memory addresses (the page is the same on every build), clipped."""
    text = re.sub(r" at 0x[0-9a-f]+", "", repr(obj))
    return text if len(text) <= limit else text[:limit - 4] + " ..."


def api_pages() -> dict[str, str]:
    """src_uri → markdown of every API page."""
    modules = public_modules()
    home = homes(modules)
    documented = {m.__name__ for m in modules}
    pages = {}
    for module in modules:
        here = module.__name__
        rows, own = [], []
        for name in public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                target = (f"[{obj.__name__}]({Path(page_uri(obj.__name__)).name})" if obj.__name__ in documented
                          else f"`{obj.__name__}`")
                rows.append(f"| `{name}` | module {target} | {_summary(obj)} |")
                continue
            where = home.get(id(obj), here)
            if where != here:
                target = f"{where}.{obj.__name__}"
                rows.append(f"| `{name}` | [{target}][{target}] | {_summary(obj)} |")
                continue
            own.append(name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                rows.append(f"| `{name}` | [{here}.{name}][{here}.{name}] | {_summary(obj)} |")
            else:  # a constant: its heading below is plain markdown, which autorefs does not index
                rows.append(f"| `{name}` | [{here}.{name}](#{here}.{name}) | constant |")
        lines = [f"# {'API reference' if here == 'hxgraph' else here}", ""]
        if here == "hxgraph":
            lines += ["Generated from the docstrings while the site is built. `import hxgraph as hx`: the",
                      "names of the table below are available as `hx.<name>`. The modules:", ""]
            lines += [f"- [{m.__name__}]({Path(page_uri(m.__name__)).name}): {_summary(m)}" for m in modules[1:]]
            lines += ["", "## hxgraph", ""]
        # The module's docstring, then the table of its names, then the objects documented here.
        lines += [f"::: {here}", "    options:", "      members: false", ""]
        if rows:
            lines += ["| name | documented at | what |", "|---|---|---|", *rows, ""]
        for name in own:  # one entry each: a heading of its own, in the module's order
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                lines += [f"::: {here}.{name}", "    options:", "      show_root_heading: true", ""]
            else:
                # Constants are shown with their value at import time: griffe reads the source
                # statically and cannot follow e.g. `A, B = 0, 1` to an alias's target.
                lines += [f"## `{name}` {{ #{here}.{name} }}", "", "```python", f"{name} = {_value(obj)}",
                          "```", ""]
        pages[page_uri(here)] = "\n".join(lines)
    return pages


def on_config(config: Any) -> Any:
    """Give the nav's "API reference" entry its pages, hxgraph first, then module by module."""
    modules = [m.__name__ for m in public_modules()]
    entries = [{"Overview": page_uri("hxgraph")}] + [{name: page_uri(name)} for name in modules[1:]]
    for index, item in enumerate(config.nav or []):
        if isinstance(item, dict) and API_NAV_TITLE in item:
            config.nav[index] = {API_NAV_TITLE: entries}
            return config
    raise PluginError(f"mkdocs.yml: the nav has no '{API_NAV_TITLE}' entry for the hook to fill")


# --- the gallery -------------------------------------------------------------------------------

_gallery_images: dict[int, str] = {}  # index of the code block in gallery.md → image src_uri
_scratch: tempfile.TemporaryDirectory[str] | None = None  # where the notebooks run during a build


def run_gallery(text: str) -> dict[int, bytes]:
    """Run the gallery's code blocks in order; block index → PNG of the figure the block ends with."""
    from matplotlib.figure import Figure

    from hxgraph.viz import figure_png

    namespace: dict[str, Any] = {"__name__": "__gallery__"}
    images = {}
    for index, match in enumerate(CODE_BLOCK.finditer(text)):
        name = f"{GALLERY}[block {index + 1}]"
        tree = ast.parse(match.group(1), filename=name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        try:
            exec(compile(tree, name, "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), name, "eval"), namespace) if last else None
        except Exception as error:  # the build must fail with the block that raised
            raise PluginError(f"{name} raised {type(error).__name__}: {error}") from error
        if isinstance(value, Figure):
            images[index] = figure_png(value, dpi=90)
    return images


@event_priority(100)  # before mkdocs-jupyter's on_files, so that it sees the notebooks
def on_files(files: Files, config: Any) -> Files:
    for src_uri, text in api_pages().items():
        files.append(File.generated(config, src_uri, content=text))
    # The notebooks run from copies in a scratch folder: the kernel's working directory is the
    # notebook's folder, and what a notebook saves must not land in the repository.
    global _scratch
    _scratch = tempfile.TemporaryDirectory(prefix="hxgraph-site-")
    (Path(_scratch.name) / "notebooks").mkdir()
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(notebook, Path(_scratch.name) / "notebooks" / notebook.name)
        # A File with a src_dir (not File.generated): mkdocs-jupyter's wrapper finds the notebook
        # through src_dir, which a generated file does not have.
        files.append(File(f"notebooks/{notebook.name}", src_dir=_scratch.name, dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
    gallery = files.get_file_from_path(GALLERY)
    _gallery_images.clear()
    if gallery is not None:
        for index, png in run_gallery(Path(gallery.abs_src_path).read_text(encoding="utf-8")).items():
            src_uri = f"gallery/figure-{index + 1}.png"
            files.append(File.generated(config, src_uri, content=png))
            _gallery_images[index] = src_uri
    return files


def on_post_build(config: Any) -> None:
    _cleanup()


def on_build_error(error: Exception) -> None:
    _cleanup()


def _cleanup() -> None:
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
        _scratch = None


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Put each gallery figure below the code block that drew it, titled by the section's heading."""
    if page.file.src_uri != GALLERY:
        return markdown
    out, position, heading = [], 0, "figure"
    for index, match in enumerate(CODE_BLOCK.finditer(markdown)):
        before = markdown[position:match.end()]
        headings = re.findall(r"^#+\s+(.*)$", before, flags=re.MULTILINE)
        heading = headings[-1] if headings else heading
        out.append(before)
        if index in _gallery_images:
            out.append(f"\n![{heading}]({_gallery_images[index]})\n")
        position = match.end()
    out.append(markdown[position:])
    return "".join(out)
