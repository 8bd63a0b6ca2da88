"""The origin guard over real HTTP: what a web page can send is refused before any work."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from proxy.config import Config, load_config
from proxy.edge.guard import _host_name
from proxy.errors import ConfigError
from tests.conftest import REPO
from tests.edge.test_app import HI, assert_openai_error
from tests.openrouter_stub import OpenRouterStub

PREFERENCES = "/api/v1/settings/update-preferences"
STATUS = "/api/v1/route/status"
ATTACK = b'{"daily_limit_usd": 999999, "upgrade_policy": "auto"}'


def preferences(url: str) -> dict[str, object]:
    return httpx.get(f"{url}{STATUS}", timeout=30).json()["preferences"]


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        pytest.param({"origin": "https://evil.example", "content-type": "text/plain"}, 403, "origin_not_allowed",
                     id="cross-origin-text-plain"),
        pytest.param({"origin": "https://evil.example", "content-type": "application/json"}, 403,
                     "origin_not_allowed", id="cross-origin-json"),
        pytest.param({"origin": "null", "content-type": "text/plain"}, 403, "origin_not_allowed", id="null-origin"),
        pytest.param({"content-type": "text/plain;charset=UTF-8"}, 415, "unsupported_media_type", id="text-plain"),
        pytest.param({"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type",
                     id="form"),
        pytest.param({"content-type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type",
                     id="multipart"),
        pytest.param({"sec-fetch-site": "cross-site"}, 415, "unsupported_media_type", id="browser-no-content-type"),
    ],
)
def test_what_a_web_page_can_send_is_refused_and_changes_nothing(
    hermes_url: str, openrouter: OpenRouterStub, headers: dict[str, str], status: int, code: str
) -> None:
    before = preferences(hermes_url)
    response = httpx.post(f"{hermes_url}{PREFERENCES}", content=ATTACK, headers=headers, timeout=30)
    error = assert_openai_error(response, status, code)
    assert error["type"] == "invalid_request_error" and response.headers["x-should-retry"] == "false"
    assert preferences(hermes_url) == before
    cloud = httpx.post(f"{hermes_url}/v1/chat/completions", headers=headers, timeout=30,
                       content=b'{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}')
    assert_openai_error(cloud, status, code)
    assert openrouter.requests == []


def test_dns_rebinding_host_is_refused(hermes_url: str) -> None:
    port = port_of(hermes_url)
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", "", "a b"):
        error = assert_openai_error(httpx.get(f"{hermes_url}{STATUS}", headers={"host": host}, timeout=30), 403,
                                    "host_not_allowed")
        assert "DNS rebinding" in error["message"]
    # The dashboard page itself too: a rebound page must not read it as its own.
    assert httpx.get(f"{hermes_url}/dashboard", headers={"host": "evil.example"}, timeout=30).status_code == 403


def test_loopback_hosts_and_the_own_origin_are_served(hermes_url: str) -> None:
    port = port_of(hermes_url)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST", "127.0.0.1:1"):
        assert httpx.get(f"{hermes_url}{STATUS}", headers={"host": host}, timeout=30).status_code == 200, host
    # What the dashboard's own fetches send, and a local dev server's page.
    for origin in (hermes_url, f"http://localhost:{port}", "http://localhost:3000", "http://[::1]:5173"):
        response = httpx.post(f"{hermes_url}{PREFERENCES}", json={"target_quality": 8}, headers={"origin": origin},
                              timeout=30)
        assert response.status_code == 200, (origin, response.text)


def test_the_dashboard_page_and_its_fetches_are_served_as_a_browser_sends_them(hermes_url: str) -> None:
    # What Chromium sends for the page, its script and its same-origin fetch (dashboard.js sends GETs only).
    page = {"sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    script = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "no-cors", "referer": f"{hermes_url}/dashboard"}
    fetch = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "accept": "application/json",
             "origin": hermes_url, "referer": f"{hermes_url}/dashboard"}
    for path, headers in (("/dashboard", page), ("/dashboard/dashboard.js", script),
                          ("/api/v1/monitoring/dashboard", fetch)):
        assert httpx.get(f"{hermes_url}{path}", headers=headers, timeout=30).status_code == 200, path
    js = httpx.get(f"{hermes_url}/dashboard/dashboard.js", timeout=30).text
    assert "method:" not in js and "body:" not in js  # no POST to give a content type to


def test_clients_that_are_not_browsers_pass(hermes_url: str) -> None:
    # curl --data-binary, SDKs and raw HTTP clients send no Origin; some send no Content-Type either.
    bare = httpx.post(f"{hermes_url}{PREFERENCES}", content=b'{"target_quality": 7}', timeout=30)
    assert bare.status_code == 200
    vendor = httpx.post(f"{hermes_url}{PREFERENCES}", content=b'{"target_quality": 6}', timeout=30,
                        headers={"content-type": "application/merge-patch+json"})
    assert vendor.status_code == 200
    assert preferences(hermes_url)["target_quality"] == 6.0


def test_hermes_origins_allows_an_extra_origin_and_its_host(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_ORIGINS="https://app.example, http://mybox.lan:8088/"))
    allowed = httpx.post(f"{url}{PREFERENCES}", json={"upgrade_policy": "never"},
                         headers={"origin": "https://app.example"}, timeout=30)
    assert allowed.status_code == 200
    assert_openai_error(httpx.post(f"{url}{PREFERENCES}", json={"upgrade_policy": "auto"},
                                   headers={"origin": "https://other.example"}, timeout=30), 403, "origin_not_allowed")
    assert preferences(url)["upgrade_policy"] == "never"
    assert httpx.get(f"{url}{STATUS}", headers={"host": "mybox.lan:8088"}, timeout=30).status_code == 200
    assert httpx.get(f"{url}{STATUS}", headers={"host": "other.lan"}, timeout=30).status_code == 403


def test_hermes_origins_star_allows_any_origin_but_not_any_host(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_ORIGINS="*"))
    response = httpx.post(f"{url}/v1/chat/completions", json={"model": "nope", "messages": HI},
                          headers={"origin": "https://anywhere.example"}, timeout=30)
    assert_openai_error(response, 404, "model_not_found")
    assert httpx.get(f"{url}{STATUS}", headers={"host": "evil.example"}, timeout=30).status_code == 403
    # Still JSON only: `*` trusts the pages, not what they cannot otherwise send.
    assert httpx.post(f"{url}{PREFERENCES}", content=ATTACK, headers={"content-type": "text/plain"},
                      timeout=30).status_code == 415


def test_hermes_origins_glob(make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]) -> None:
    url = serve_hermes(make_config(HERMES_ORIGINS="https://*.example.com"))
    for origin, status in (("https://a.example.com", 200), ("https://example.com", 403),
                           ("https://a.example.com.evil.example", 403), ("http://a.example.com", 403)):
        response = httpx.post(f"{url}{PREFERENCES}", json={"target_quality": 5}, headers={"origin": origin},
                              timeout=30)
        assert response.status_code == status, origin


@pytest.mark.parametrize("value", ["example.com", "http://a.example/path", "ftp//x", "http://"])
def test_a_bad_hermes_origins_entry_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="HERMES_ORIGINS"):
        load_config(REPO, {"HERMES_ORIGINS": value})


def test_hermes_origins_is_read_once_into_the_config() -> None:
    config = load_config(REPO, {"HERMES_ORIGINS": " https://App.example/ ,,chrome-extension://abc "})
    assert config.origins == ("https://app.example", "chrome-extension://abc")
    assert load_config(REPO, {}).origins == ()


@pytest.mark.parametrize(
    ("host", "name"),
    [("localhost:8088", "localhost"), ("[::1]:8088", "::1"), ("127.0.0.1", "127.0.0.1"), ("Box.LAN", "box.lan"),
     ("a:b", None), ("[::1", None), ("user@host", None), ("", None), ("host:123456", None)],
)
def test_host_header_names(host: str, name: str | None) -> None:
    assert _host_name(host) == name
