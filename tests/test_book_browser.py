"""The built book, opened page by page in headless Chromium with no network (issue 18).

Every page of ``book/_build/html`` is loaded from disk in one Chromium whose host resolver
fails every name, as in a workshop room without internet.  On each page the test checks
that MathJax typeset every formula (no raw ``\\(``/``\\[`` left in the text, no MathJax error),
that every image loaded, that no request left the disk or failed, that internal links and
their anchors resolve, and that no machine path (``/work/...``, ``/tmp/ipykernel_...``,
``.cache/...``) is shown.  The same run writes the screenshots referenced from
``book/README.md``.

Chromium is driven through its DevTools protocol with ``websocket-client``, so no driver
binary is needed.  ``make book-test`` installs Chromium (Debian package ``chromium``) when it
is missing and runs this file with ``UNLEARNLAB_BROWSER_REQUIRED=1``, which turns a missing
browser into a failure instead of a skip.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import build as book  # noqa: E402

SCREENSHOTS = ROOT / "book" / "screenshots"
SCREENSHOT_PAGES = {"landing.png": ("intro.html", None),
                    "chapter.png": ("notebooks/05_preference_optimisation.html", "mjx-container[display]")}
# Absolute paths of this machine, virtual environments, kernels' temporary files and caches:
# none of them means anything to a reader of the book.
MACHINE_PATH = re.compile(
    r"(?<![\w.~])/(?:root|work|home|tmp|Users|var/folders)/[^\s\"'<>)]*"
    r"|[^\s\"'<>(]*(?:site-packages|ipykernel_|\.cache/)[^\s\"'<>)]*"
    r"|[A-Za-z]:\\Users\\[^\s\"'<>]*")
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\(?:frac|text|mathrm|mathcal|sigma|beta|lambda|log|pi)\b")
PAGE_TIMEOUT_S = 30

# Runs in each page once it has loaded: waits for MathJax's first typesetting pass and for
# every image, then reports what the assertions need.
PROBE = r"""
(async () => {
  // index.html only redirects to the landing page; the probe then runs there
  const refresh = document.querySelector('meta[http-equiv="Refresh" i]');
  if (refresh || !document.body || document.readyState !== 'complete') {
    return JSON.stringify({redirect: refresh ? refresh.getAttribute('content') : 'loading'});
  }
  const mj = window.MathJax;
  const mathjax = !!(mj && mj.startup && mj.startup.promise);
  if (mathjax) { await mj.startup.promise; }
  await document.fonts.ready;   // MathJax's web fonts, so screenshots do not depend on timing
  await Promise.all([...document.images].map(img => {
    img.loading = 'eager';
    return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
  }));
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEXTAREA', 'PRE', 'CODE', 'KBD',
                        'MJX-CONTAINER', 'MJX-ASSISTIVE-MML']);
  const prose = [], all = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let inside = false, hidden = false;
    for (let el = node.parentElement; el; el = el.parentElement) {
      if (skip.has(el.tagName)) { inside = true; }
      if (el.tagName === 'SCRIPT' || el.tagName === 'STYLE') { hidden = true; }
    }
    if (!hidden) { all.push(node.nodeValue); }
    if (!inside) { prose.push(node.nodeValue); }
  }
  const math = [...document.querySelectorAll('.math')];
  return JSON.stringify({
    url: location.href,
    mathjax: mathjax,
    math_elements: math.length,
    untypeset: math.filter(el => !el.querySelector('mjx-container'))
                   .map(el => el.textContent.slice(0, 80)),
    typeset: document.querySelectorAll('mjx-container').length,
    math_errors: [...document.querySelectorAll('mjx-merror')].map(el => el.textContent.slice(0, 80)),
    broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                                        .map(i => i.getAttribute('src')),
    images: document.images.length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    prose: prose.join(' '),
    text: all.join(' '),
  });
})()
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _require_browser():
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (pip install -e '.[dev]')"
    if _chromium() is None:
        return "Chromium is not installed (`make browser` installs the Debian package)"
    return None


_missing = _require_browser()
if _missing and os.environ.get("UNLEARNLAB_BROWSER_REQUIRED") == "1":
    raise RuntimeError(f"browser test required but {_missing}")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")


class Browser:
    """One headless Chromium with one tab, driven through the DevTools protocol."""

    def __init__(self, width: int = 1280, height: int = 800):
        import websocket

        self.profile = tempfile.mkdtemp(prefix="unlearnlab-chromium-")
        args = [_chromium(), "--headless=new", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--disable-background-networking", "--disable-component-update",
                "--disable-dev-shm-usage", "--mute-audio", "--force-device-scale-factor=1",
                # no network: every host name fails to resolve, like a room without internet
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--window-size={width},{height}", f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")   # Chromium refuses to run as root with its sandbox
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        port = self._devtools_port()
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(p for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=PAGE_TIMEOUT_S,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                # keep reading Chromium's log, or it blocks once the pipe's buffer is full
                threading.Thread(target=self.process.stderr.read, daemon=True).start()
                return int(match.group(1))
        self.close()
        raise RuntimeError("Chromium did not start:\n" + "".join(seen[-20:]))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, count: int = 1, timeout: float = PAGE_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while sum(e.get("method") == event for e in self.events) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.ws.recv()))

    def open(self, url: str) -> tuple[dict, list[dict]]:
        """Load url, run PROBE; return its report and the page's network events."""
        self.events = []
        self.call("Page.navigate", url=url)
        expected = url   # or, for a page that only redirects (index.html), its target
        refresh = re.search(r'http-equiv="Refresh" content="[^"]*url=([^"]+)"',
                            Path(unquote(urlparse(url).path)).read_text(encoding="utf-8"), re.I)
        if refresh:
            expected = urljoin(url, refresh.group(1).strip())
        for loads in (1, 2, 3, 4):   # a redirecting page (index.html) is followed to its target
            self.wait_for("Page.loadEventFired", count=loads)
            try:
                result = self.call("Runtime.evaluate", expression=PROBE, awaitPromise=True,
                                   returnByValue=True, timeout=PAGE_TIMEOUT_S * 1000)
            except RuntimeError as error:   # the page navigated away while the probe ran
                if "context was destroyed" in str(error) or "navigated or closed" in str(error):
                    continue
                raise
            if "exceptionDetails" in result:
                raise RuntimeError(f"{url}: {result['exceptionDetails']}")
            report = json.loads(result["result"]["value"])
            if "redirect" not in report and report["url"].split("#")[0] == expected:
                return report, list(self.events)
        raise RuntimeError(f"{url}: still redirecting or loading after four page loads")

    def screenshot(self, path: Path, scroll_to: str | None = None) -> None:
        if scroll_to:
            self.call("Runtime.evaluate", expression=(
                f"document.querySelector({json.dumps(scroll_to)}).closest('section')"
                ".scrollIntoView({block: 'start'})"))
        # a blinking text caret (the sidebar's search box) would make each run's image differ
        self.call("Runtime.evaluate", expression=(
            "{ document.activeElement && document.activeElement.blur();"
            "  const style = document.createElement('style');"
            "  style.textContent = '* { caret-color: transparent !important; }';"
            "  document.head.appendChild(style); }"))
        time.sleep(0.5)   # let the theme's scroll-spy settle
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        if not (path.exists() and _nearly_identical(path.read_bytes(), data)):
            path.write_bytes(data)

    def close(self) -> None:
        if getattr(self, "ws", None):
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def _nearly_identical(old: bytes, new: bytes, max_pixels: int = 400) -> bool:
    """True when two screenshots differ in at most a few pixels (antialiasing of the sidebar's
    search box varies from run to run); then the committed file is left untouched."""
    from io import BytesIO

    from PIL import Image, ImageChops   # Pillow comes with matplotlib

    a, b = (Image.open(BytesIO(data)).convert("RGB") for data in (old, new))
    if a.size != b.size:
        return False
    box = ImageChops.difference(a, b).getbbox()
    return box is None or (box[2] - box[0]) * (box[3] - box[1]) <= max_pixels


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith(("_static", "_sources", "_images")))


@pytest.fixture(scope="module")
def browsed():
    """{page: (probe report, network events)} for every page of a fresh build, plus screenshots."""
    site = book.build()
    browser = Browser()
    try:
        reports = {}
        for page in _pages(site):
            reports[page.relative_to(site).as_posix()] = browser.open(page.as_uri())
        SCREENSHOTS.mkdir(exist_ok=True)
        for name, (page, scroll_to) in SCREENSHOT_PAGES.items():
            browser.open((site / page).as_uri())
            browser.screenshot(SCREENSHOTS / name, scroll_to)
    finally:
        browser.close()
    return site, reports


def test_every_page_was_opened(browsed):
    site, reports = browsed
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    expected = {"intro.html", "glossary.html", "references.html"} | {f"notebooks/{nb.stem}.html" for nb in notebooks}
    assert expected <= set(reports), f"pages not built: {sorted(expected - set(reports))}"


def test_math_is_typeset_on_every_page(browsed):
    _, reports = browsed
    problems = []
    typeset_pages = 0
    for page, (report, _) in reports.items():
        if report["math_elements"] and not report["mathjax"]:
            problems.append(f"{page}: MathJax did not start ({report['math_elements']} formulas)")
        if report["untypeset"]:
            problems.append(f"{page}: formulas left raw: {report['untypeset'][:3]}")
        if report["math_errors"]:
            problems.append(f"{page}: MathJax errors: {report['math_errors'][:3]}")
        raw = sorted({m.group(0) for m in RAW_TEX.finditer(report["prose"])})
        if raw:
            at = RAW_TEX.search(report["prose"]).start()
            problems.append(f"{page}: raw LaTeX in the text {raw}: ...{report['prose'][max(0, at - 60):at + 40]}...")
        typeset_pages += report["typeset"] > 0
    assert not problems, "\n".join(problems)
    # the chapters and the glossary hold formulas, so a run that typeset nothing proves nothing
    assert typeset_pages >= 3, f"only {typeset_pages} pages have typeset formulas"


def test_every_image_loads_and_nothing_comes_from_the_network(browsed):
    _, reports = browsed
    problems = []
    for page, (report, events) in reports.items():
        if report["broken_images"]:
            problems.append(f"{page}: images that did not load: {report['broken_images']}")
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "blob:", "about:")):
                    problems.append(f"{page}: requests {url}")
            elif method == "Network.loadingFailed" and params.get("errorText") != "net::ERR_ABORTED":
                problems.append(f"{page}: failed to load a resource ({params.get('errorText')}, "
                                f"{params.get('type')})")
    assert not problems, "\n".join(problems)
    assert sum(r["images"] for r, _ in reports.values()) > len(reports), "no figures were checked"


def test_internal_links_and_anchors_resolve(browsed):
    site, reports = browsed
    broken = []
    ids: dict[Path, set[str]] = {}
    for page, (report, _) in reports.items():
        for href in report["links"]:
            parts = urlparse(href)
            if parts.scheme != "file":
                continue
            target = Path(unquote(parts.path))
            if not target.exists():
                broken.append(f"{page} -> {href}")
            elif parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8")))
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{page} -> {href} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken[:30])


def test_no_page_shows_a_machine_path(browsed):
    _, reports = browsed
    found = {}
    for page, (report, _) in reports.items():
        paths = sorted(set(MACHINE_PATH.findall(report["text"])))
        if paths:
            found[page] = paths
    assert not found, "pages that show machine paths:\n" + "\n".join(
        f"{page}: {paths[:5]}" for page, paths in found.items())


def test_screenshots_are_written(browsed):
    for name in SCREENSHOT_PAGES:
        data = (SCREENSHOTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert 10_000 < len(data) < 300_000, f"{name}: {len(data)} bytes"
