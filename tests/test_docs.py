"""No reference in the docs is broken, as a reader of the repository (or a code host) sees them.

Checked in docs/*.md and README.md: every dotted `hxgraph.…` / `hx.…` name resolves to an
object, every relative link (and its #anchor) exists, and every repository path written in
backticks (`examples/yinyang.py`) exists. Links into docs/api/ and docs/notebooks/ point at
pages that tools/mkdocs_hooks.py adds when the site is built (tests/test_site.py builds it).
"""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
NAME = re.compile(r"(?<![\w./-])(hxgraph|hx)((?:\.[A-Za-z_]\w*)+)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PATH = re.compile(r"`((?:docs|examples|notebooks|benchmarks|hxgraph|tests)/[\w./-]*\w)`")


def load_hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading (mkdocs.yml makes the site's anchors the same): lower case,
    punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def headings(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    found, seen = set(), {}
    for line in text.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_dotted_names_resolve(path):
    text = path.read_text(encoding="utf-8")
    broken = []
    for match in NAME.finditer(text):
        dotted = "hxgraph" + match.group(2).rstrip(".")
        try:
            resolve(dotted)
        except (ImportError, AttributeError):
            broken.append(match.group(0))
    assert not broken, f"{path.name}: names that do not exist: {sorted(set(broken))}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_links_and_paths_resolve(path):
    text = path.read_text(encoding="utf-8")
    broken = []
    # Pages that exist only in the site: the generated API pages and the notebooks, which the
    # build adds under docs/notebooks/ (tests/test_site.py checks links to them in the built site).
    site_pages = {ROOT / "docs" / uri for uri in load_hooks().api_pages()}
    site_pages |= {ROOT / "docs" / "notebooks" / p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if linked in site_pages:
            continue
        if not linked.exists() or anchor and linked.suffix == ".md" and anchor not in headings(linked):
            broken.append(target)
    for written in PATH.findall(text):
        if not (ROOT / written).exists():
            broken.append(written)
    assert not broken, f"{path.name}: broken links or paths: {broken}"


def test_the_checks_catch_broken_references(tmp_path):
    with pytest.raises(AttributeError):
        resolve("hxgraph.viz.plot_placment")
    assert resolve("hxgraph.chip.ChipMapping.summary")
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Two words\n")
    assert headings(page) == {"title", "two-words"}


def test_readme_example_runs(tmp_path, monkeypatch):
    # The README's Python example is complete: run it as written (in a scratch directory).
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})
    assert (tmp_path / "placement.png").stat().st_size > 10_000
