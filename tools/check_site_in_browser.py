"""Open the built documentation site in headless Chromium, take screenshots, fail on browser errors.

    mkdocs build --strict && python tools/check_site_in_browser.py site --out screenshots

Serves SITE on 127.0.0.1 (a free port, for the duration of the check) and opens three pages:
the landing page, the placement-and-routing notebook (scrolled to its placement figure) and an
API page. On every page it fails on an uncaught exception, a console error, a failed or broken
resource (an image that did not decode), and any request that leaves the local server: the site
must work without a network. It writes one PNG screenshot per page into --out and prints what it
checked; exit status 0 when all pages pass, 1 otherwise, 2 when Chromium is missing.

Chromium (Debian's `chromium` package) is driven through the DevTools protocol over a pipe
(`--remote-debugging-pipe`: JSON messages separated by NUL bytes on file descriptors 3 and 4),
so nothing beyond the standard library and the browser is needed.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1280, 900
# Page path, screenshot name, and a JavaScript expression (evaluated after load) that returns
# a problem as a string or "" when the page shows what it must.
PAGES = [
    ("index.html", "landing", """(() => {
        const h1 = document.querySelector("article h1");
        if (!h1 || h1.textContent.replace("¶", "").trim() !== "hxgraph") return "no 'hxgraph' title: " + (h1 && h1.textContent);
        if (![...document.querySelectorAll("article h2")].some(h => h.textContent.includes("Two commands")))
            return "the README's sections are missing";
        const img = [...document.images].find(i => i.src.includes("placement"));
        if (!img || img.naturalWidth < 400) return "the README's placement figure did not load";
        return "";
    })()"""),
    ("notebooks/02_placement_and_routing.html", "notebook-placement", """(() => {
        const cell = [...document.querySelectorAll(".jp-CodeCell")]
            .find(c => c.querySelector(".jp-InputArea").textContent.includes("plot_placement(mapping)"));
        if (!cell) return "no cell drawing plot_placement(mapping)";
        const img = cell.querySelector(".jp-OutputArea img");
        if (!img) return "the plot_placement cell has no figure";
        if (img.naturalWidth < 400) return "the placement figure did not decode (width " + img.naturalWidth + ")";
        img.scrollIntoView({block: "center"});
        return "";
    })()"""),
    ("api/hxgraph.chip.html", "api-chip", """(() => {
        const entry = document.getElementById("hxgraph.chip.place_and_route");
        if (!entry) return "no entry for hxgraph.chip.place_and_route";
        if (!document.querySelector(".doc-signature, .doc-signature code, pre"))
            return "no rendered signature";
        entry.scrollIntoView({block: "start"});
        return "";
    })()"""),
]


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class PageResult:
    url: str
    screenshot: Path
    problems: list[str] = field(default_factory=list)


class DevTools:
    """A Chromium process and its DevTools protocol session over the debugging pipe."""

    def __init__(self, browser: str, profile: str) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:
            # Chromium reads commands on fd 3 and writes replies and events to fd 4. Duplicate to
            # high numbers first so that neither dup2 overwrites the other pipe's end.
            read_end = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [browser, "--headless", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio", f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}", "about:blank"]
        if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
            args.insert(1, "--no-sandbox")
        self.log = open(Path(profile) / "chromium.log", "wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_child], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept in `events`."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply is None:
                raise TimeoutError(f"{method}: no reply within {timeout} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Read events until one satisfies `predicate` (True) or `timeout` passes (False)."""
        if any(predicate(e) for e in self.events):
            return True
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_message(deadline)
            if event is None:
                return False
            self.events.append(event)
            if predicate(event):
                return True

    def drain(self, seconds: float) -> None:
        """Collect the events of the next `seconds` (late script errors, lazy image loads)."""
        self.wait_for(lambda e: False, seconds)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self.log.close()


def _problems(events: Sequence[dict[str, Any]], origin: str) -> list[str]:
    """What went wrong on a page, from the DevTools events it produced."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            found.append(f"uncaught exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            found.append(f"console.{params['type']}: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"browser log error: {entry.get('text')} {entry.get('url', '')}".rstrip())
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith((origin, "data:", "blob:", "about:")):
                found.append(f"request outside the site: {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"failed to load a resource: {params.get('errorText')} ({params.get('type')})")
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            if response.get("status", 200) >= 400:
                found.append(f"HTTP {response['status']}: {response.get('url')}")
    return found


def check_site(site: Path, out: Path, browser: str | None = None, settle: float = 1.5,
               pages: Sequence[tuple[str, str, str]] = PAGES) -> list[PageResult]:
    """Open each page of `site`, screenshot it into `out`, and return what was found on each."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError(f"no Chromium found (tried {', '.join(BROWSERS)}): apt-get install chromium")
    site, out = Path(site).resolve(), Path(out)
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"{site}/index.html does not exist: build the site first (mkdocs build --strict)")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="hxgraph-chromium-") as profile:
        # The browser starts before the server's thread: forking with a preexec_fn is safe only
        # while this process has one thread.
        tools = DevTools(browser, profile)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                 functools.partial(_QuietHandler, directory=str(site)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable", session=session)
            tools.call("Emulation.setDeviceMetricsOverride",
                       {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session=session)
            for path, name, check in pages:
                url = origin + path
                tools.events.clear()
                tools.call("Page.navigate", {"url": url}, session=session)
                result = PageResult(url, out / f"{name}.png")
                if not tools.wait_for(lambda e: e.get("method") == "Page.loadEventFired", timeout=60):
                    result.problems.append("the page did not finish loading within 60 s")
                tools.drain(settle)
                verdict = tools.call("Runtime.evaluate", {"expression": check, "returnByValue": True},
                                     session=session)
                if "exceptionDetails" in verdict:
                    result.problems.append(f"the page check raised: {verdict['exceptionDetails'].get('text')}")
                elif verdict.get("result", {}).get("value"):
                    result.problems.append(verdict["result"]["value"])
                tools.drain(0.5)  # the check may have scrolled: let lazy content settle before the picture
                shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
                result.screenshot.write_bytes(base64.b64decode(shot["data"]))
                result.problems += _problems(tools.events, origin)
                results.append(result)
        finally:
            tools.close()
            server.shutdown()
            server.server_close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("site"), help="the built site (default: site)")
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="where the PNGs go")
    parser.add_argument("--browser", help="the browser executable (default: chromium from PATH)")
    args = parser.parse_args(argv)
    try:
        results = check_site(args.site, args.out, args.browser)
    except FileNotFoundError as error:
        print(f"check_site_in_browser: {error}", file=sys.stderr)
        return 2
    failed = False
    for result in results:
        status = "ok" if not result.problems else "FAILED"
        print(f"{status:6} {result.url} -> {result.screenshot}")
        for problem in result.problems:
            print(f"       {problem}")
        failed = failed or bool(result.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
