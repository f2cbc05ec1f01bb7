"""The browser tests' own guard (``tests.browser.browser_page``): a page of the project may load
nothing from another host. A request the page's content-security policy stops never leaves the
machine and is allowed; one the browser sends out fails the test, naming it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import browser_page, leaves_this_machine

OUTSIDE_IMAGE = "https://pixel.example.invalid/telemetry.png"


class _Pages(BaseHTTPRequestHandler):
    """``/guarded``: a page whose policy allows images from itself only; ``/open``: the same page
    without a policy. Both show an image of another host."""

    def do_GET(self) -> None:
        body = f'<html><body>a page<img src="{OUTSIDE_IMAGE}"></body></html>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if self.path == "/guarded":
            self.send_header("Content-Security-Policy", "img-src 'self'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_the_pages_policy_stops_is_allowed(site):
    with browser_page() as page:
        page.goto(site + "/guarded", wait_until="domcontentloaded")
        page.wait_for_timeout(300)  # time for the image's request to be made, and refused
        assert page.title() == "" and "a page" in page.content()


def test_a_request_that_leaves_the_machine_fails_the_test_naming_it(site):
    with pytest.raises(pytest.fail.Exception) as failed:
        with browser_page() as page:
            # the page's "load" would wait on the image: its host may not answer at all here
            page.goto(site + "/open", wait_until="domcontentloaded")
            page.wait_for_timeout(300)
    assert OUTSIDE_IMAGE in str(failed.value)
    assert "loads nothing from outside this machine" in str(failed.value)


@pytest.mark.parametrize(
    ("url", "leaves"),
    [
        ("http://127.0.0.1:8088/login/", False),
        ("http://localhost:8080/dags", False),
        ("http://[::1]:8088/", False),
        ("ws://127.0.0.1:8088/socket", False),
        ("data:image/png;base64,AAAA", False),
        ("blob:http://127.0.0.1:8088/1234", False),
        ("https://apachesuperset.gateway.scarf.sh/pixel/x", True),
        ("http://10.1.2.3/", True),
        ("wss://example.com/socket", True),
    ],
)
def test_which_urls_leave_this_machine(url, leaves):
    assert leaves_this_machine(url) is leaves
