"""The documentation site: built as `mkdocs build --strict` builds it, then checked page by page.

The build is strict: a broken link or anchor, a page missing from the nav, an API reference or
docstring cross-reference that does not resolve, a notebook cell or a gallery block that raises
all fail it. It runs once per test session (shared by the xdist workers through a lock), with
the notebooks' small sizes (HXGRAPH_NOTEBOOK_QUICK=1) to keep the suite short. The last test
opens the site in headless Chromium where Debian's `chromium` package is installed.
"""

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
import zlib
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUILD_TIMEOUT = 1200


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


hooks = _load("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")


def build_site(site_dir: Path) -> dict:
    """Run `mkdocs build --strict` into `site_dir`; its exit status, output and duration."""
    env = dict(os.environ, HXGRAPH_NOTEBOOK_QUICK="1", NO_MKDOCS_2_WARNING="1")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                          check=False)
    return {"returncode": done.returncode, "output": done.stdout + done.stderr,
            "seconds": time.perf_counter() - start, "site": str(site_dir)}


@pytest.fixture(scope="session")
def build(tmp_path_factory, worker_id) -> dict:
    if worker_id == "master":  # no xdist: this session is the only one
        return build_site(tmp_path_factory.mktemp("site"))
    # With xdist every worker has its own session: the first to take the lock builds, the others
    # read what it left (the pattern pytest-xdist documents for session-wide fixtures; the parent
    # of a worker's base temp folder belongs to this run alone).
    shared = tmp_path_factory.getbasetemp().parent
    record = shared / "site-build.json"
    with FileLock(str(shared / "site-build.lock")):
        if record.exists():
            return json.loads(record.read_text())
        result = build_site(shared / "site")
        record.write_text(json.dumps(result))
        return result


@pytest.fixture(scope="session")
def site(build) -> Path:
    assert build["returncode"] == 0, f"mkdocs build --strict failed:\n{build['output'][-6000:]}"
    return Path(build["site"])


def page(site: Path, path: str) -> str:
    return (site / path).read_text(encoding="utf-8")


def test_site_builds_in_strict_mode(build):
    assert build["returncode"] == 0, f"mkdocs build --strict failed:\n{build['output'][-6000:]}"
    # mkdocs' own warnings (the kernel's "[IPKernelApp] WARNING | ... TCP without encryption" is not one).
    assert not re.search(r"^WARNING\s+-", build["output"], flags=re.MULTILINE), build["output"]
    # Every notebook was executed by the build, not rendered from stored outputs.
    for notebook in NOTEBOOKS:
        assert re.search(rf"Converting notebook \(execute=True\): \S*{re.escape(notebook.name)}", build["output"])


def test_every_page_is_in_the_site(site):
    for doc in (ROOT / "docs").glob("*.md"):
        assert (site / f"{doc.stem}.html").exists(), doc.name
    for notebook in NOTEBOOKS:
        assert (site / "notebooks" / f"{notebook.stem}.html").exists(), notebook.name
    for uri in hooks.api_pages():
        assert (site / uri).with_suffix(".html").exists(), uri


def test_landing_page_is_the_readme(site):
    html = page(site, "index.html")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for heading in re.findall(r"^## (.+)$", readme, flags=re.MULTILINE):
        assert f">{heading}<" in html, heading
    # The README's links are rewritten from the repository's root to the docs folder.
    assert 'href="guide.html#seeing-where-a-network-goes"' in html
    assert 'src="images/placement.png"' in html and (site / "images" / "placement.png").exists()


def _drawing_cells(notebook: Path) -> int:
    """Code cells whose last line shows a figure: an hx.viz.plot_… call or a `fig`."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    count = 0
    for cell in cells:
        lines = "".join(cell["source"]).strip().splitlines()
        if cell["cell_type"] == "code" and lines and (lines[-1].startswith("hx.viz.plot_") or lines[-1] == "fig"):
            count += 1
    return count


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_pages_show_their_figures(site, notebook):
    html = page(site, f"notebooks/{notebook.stem}.html")
    figures = len(re.findall(r'<img[^>]+src="data:image/png;base64,', html))
    assert _drawing_cells(notebook) >= 1
    assert figures >= _drawing_cells(notebook), f"{figures} figures for {_drawing_cells(notebook)} drawing cells"
    assert "Traceback" not in html


def _inventory(site: Path) -> set[str]:
    """The names in the site's objects.inv (Sphinx's format: four header lines, then zlib)."""
    data = (site / "objects.inv").read_bytes()
    body = data.split(b"\n", 4)[4]
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode("utf-8").splitlines() if line}


def test_api_reference_documents_every_public_name(site):
    names = _inventory(site)
    modules = hooks.public_modules()
    home = hooks.homes(modules)
    assert {m.__name__ for m in modules} >= {"hxgraph", "hxgraph.chip", "hxgraph.graph", "hxgraph.viz"}
    for module in modules:
        html = page(site, Path(hooks.page_uri(module.__name__)).with_suffix(".html").as_posix())
        for name in hooks.public_names(module):
            obj = getattr(module, name)
            assert f"<code>{name}</code>" in html, f"{module.__name__}: no row for {name}"
            if isinstance(obj, types.ModuleType):
                continue
            if inspect.isclass(obj) or inspect.isroutine(obj):
                documented = f"{home.get(id(obj), module.__name__)}.{obj.__name__}"
                assert documented in names, f"{module.__name__}.{name}: {documented} is not in the reference"
            else:
                assert f'id="{module.__name__}.{name}"' in html, f"{module.__name__}.{name}: no entry"
    # Members are documented too, with signatures and docstrings.
    assert "hxgraph.graph.Graph.structure_hash" in names
    chip = page(site, "api/hxgraph.chip.html")
    assert "exact_time_limit" in chip and "raises" in chip


def test_gallery_draws_every_viz_function(site):
    import hxgraph.viz

    text = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    code = "\n".join(hooks.CODE_BLOCK.findall(text))
    plots = [name for name in hxgraph.viz.__all__ if name.startswith("plot_")]
    missing = [name for name in plots if f"hx.viz.{name}(" not in code]
    assert not missing, f"docs/gallery.md does not draw {missing}"
    html = page(site, "gallery.html")
    images = re.findall(r'<img alt="[^"]*" src="(gallery/figure-\d+\.png)"', html)
    assert len(images) >= len(plots)
    for src in images:
        png = (site / src).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5_000, src


def test_site_loads_nothing_from_the_network(site):
    # Fonts, scripts, styles and images all come from the site itself: it is read offline.
    outside = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"')
    for html in site.rglob("*.html"):
        found = outside.findall(html.read_text(encoding="utf-8"))
        assert not found, f"{html.relative_to(site)}: {found[:3]}"
    for css in site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text(encoding="utf-8")), css.name


def test_a_raising_notebook_fails_the_build(tmp_path):
    # The notebook settings of mkdocs.yml, on a one-cell notebook that raises: the build must fail.
    import nbformat
    import yaml
    from mkdocs.utils import yaml_load

    config = yaml_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    jupyter = next(p["mkdocs-jupyter"] for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# index\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]),
                   str(tmp_path / "docs" / "raises.ipynb"))
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump({"site_name": "t", "plugins": [{"mkdocs-jupyter": jupyter}]}))
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode != 0 and "ZeroDivisionError" in done.stdout + done.stderr


def test_gallery_block_that_raises_names_itself():
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match=r"gallery.md\[block 2\] raised ZeroDivisionError"):
        hooks.run_gallery("```python\nx = 1\n```\n\ntext\n\n```python\nx / 0\n```\n")
    # A block ending in a figure gives a PNG; others give none.
    images = hooks.run_gallery("```python\nfrom matplotlib.figure import Figure\n```\n"
                               "```python\nfig = Figure()\nfig.subplots().plot([0, 1])\nfig\n```\n")
    assert list(images) == [1] and images[1].startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="headless Chromium is not installed (Debian: apt-get install chromium); "
                           "tools/check_site_in_browser.py checks the site in a browser")
def test_site_opens_in_a_browser(site, tmp_path):
    browser = _load("check_site_in_browser", ROOT / "tools" / "check_site_in_browser.py")
    results = browser.check_site(site, tmp_path)
    assert [Path(r.screenshot).name for r in results] == ["landing.png", "notebook-placement.png", "api-chip.png"]
    for result in results:
        assert not result.problems, f"{result.url}: {result.problems}"
        assert result.screenshot.read_bytes().startswith(b"\x89PNG") and result.screenshot.stat().st_size > 20_000
