"""Headless Chromium, driven over the DevTools protocol, for the browser test of the built book.

Standard library only: Chromium is started with ``--remote-debugging-pipe`` and speaks the Chrome
DevTools Protocol (CDP) as NUL-terminated JSON messages on file descriptors 3 (commands in) and 4
(replies and events out), so no websocket client and no TCP port are needed.  The built HTML is
served by :class:`LocalSite`, a ``http.server`` bound to 127.0.0.1 in a thread.

Not collected by pytest (no ``test_`` prefix); used by ``tests/test_book.py``.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--metrics-recording-only",
    "--mute-audio",
    # Belt and braces: even if a page asked for another host, the name would not resolve.
    # Every request is still *recorded* (Network.requestWillBeSent) and the test fails on it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1280,900",
    "--remote-debugging-pipe",
)


def find_chromium(install: bool = True) -> str:
    """Path of a Chromium binary; installs Debian's ``chromium`` with apt-get when missing and allowed.

    Raises ``RuntimeError`` with a message saying what to do when no browser can be found or installed.
    """
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        log = []
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=900,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            log.append(f"$ {' '.join(cmd)} -> rc {proc.returncode}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
            if proc.returncode != 0:
                break
        path = shutil.which("chromium")
        if path:
            return path
        raise RuntimeError("could not install Chromium with apt-get:\n" + "\n".join(log))
    raise RuntimeError(
        "the browser test needs headless Chromium: install it with "
        "`apt-get update && apt-get install -y chromium` (as root), or put a chromium binary on PATH"
    )


def _move_above_4(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class LocalSite:
    """Serve a folder on ``http://127.0.0.1:<free port>/`` from a daemon thread (context manager)."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LocalSite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class CDPError(RuntimeError):
    """An error reply, a timeout, or a browser that went away."""


@dataclass
class PageReport:
    """What happened while one page loaded and what its DOM looked like afterwards."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dom: dict = field(default_factory=dict)


class Chromium:
    """One headless Chromium process, one tab, spoken to over ``--remote-debugging-pipe``."""

    def __init__(self, binary: str | None = None, timeout: float = 30.0) -> None:
        self.binary = binary or find_chromium()
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="course-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # move the child's ends above 9 so the redirections below cannot clobber them
        to_browser_r, from_browser_w = (_move_above_4(fd) for fd in (to_browser_r, from_browser_w))
        # bash puts our pipe ends on the descriptors 3 and 4 that Chromium expects (a thread-safe
        # alternative to a preexec_fn; dash would reject descriptors above 9).
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self._stderr = open(Path(self._profile) / "stderr.log", "wb")  # a file: a full pipe would block Chromium
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", script, self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}/profile", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=self.session)
            self.send("Network.setCacheDisabled", {"cacheDisabled": True}, session=self.session)
        except Exception:
            self.close()
            raise

    def stderr_tail(self, n: int = 3000) -> str:
        """The end of Chromium's stderr (for error messages)."""
        try:
            return (Path(self._profile) / "stderr.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # -- protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise CDPError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()}): {self.stderr_tail()}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile go to ``self.events``."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        except OSError as err:
            raise CDPError(f"Chromium is gone ({err}, exit code {self.proc.poll()}): {self.stderr_tail()}") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str, timeout: float | None = None):
        """Evaluate JavaScript in the page (awaiting a returned promise) and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise CDPError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- pages ------------------------------------------------------------------------------
    def visit(self, url: str, inspect_js: str, settle_js: str = "true") -> PageReport:
        """Load ``url``, wait for the load event and for ``settle_js`` (a promise), then run ``inspect_js``."""
        self.events.clear()
        result = self.send("Page.navigate", {"url": url}, session=self.session)
        if result.get("errorText"):
            raise CDPError(f"could not load {url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired")
        self.evaluate(settle_js)
        report = PageReport(url=url, dom=self.evaluate(inspect_js))
        # drain what is already queued so late console messages are seen
        with contextlib.suppress(CDPError):
            self.send("Runtime.evaluate", {"expression": "1"}, session=self.session)
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                report.failed_responses.append(f"{params['response']['status']} {params['response']['url']}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                report.failed_responses.append(f"{params.get('errorText')} (request {params.get('requestId')})")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                report.console_errors.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text", "")
                report.console_errors.append(f"uncaught: {text}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                report.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        return report

    def screenshot(self, path: str | Path, full_page: bool = True) -> None:
        """Save a PNG of the current page (the whole page when ``full_page``) for a person to look at."""
        import base64

        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", params, session=self.session, timeout=60)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def print_to_pdf(self) -> bytes:
        """The current page printed to PDF (CSS page size and margins, page numbers, outline, links)."""
        import base64

        small = 'style="font-size:7pt;width:100%;text-align:center;color:#555;font-family:sans-serif"'
        params = {
            "printBackground": True,
            "preferCSSPageSize": True,
            "displayHeaderFooter": True,
            "headerTemplate": f'<div {small}><span class="title"></span></div>',
            "footerTemplate": f'<div {small}><span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            "generateDocumentOutline": True,
            "transferMode": "ReturnAsStream",
        }
        stream = self.send("Page.printToPDF", params, session=self.session, timeout=900)["stream"]
        chunks = []
        while True:
            part = self.send("IO.read", {"handle": stream, "size": 1 << 20}, session=self.session)
            data = part.get("data", "")
            chunks.append(base64.b64decode(data) if part.get("base64Encoded") else data.encode("latin-1"))
            if part.get("eof"):
                break
        self.send("IO.close", {"handle": stream}, session=self.session)
        return b"".join(chunks)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=5)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
