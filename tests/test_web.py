"""The shared web layer (pipeline.infra.web) on a tiny app of its own: who may connect, the
password, CSRF tokens, body limits, headers, and error pages without a stack trace."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from pipeline.domain.errors import PipelineError
from pipeline.infra import web

LOCAL = "http://127.0.0.1"


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"token={request.state.csrf_token}")


async def change(request: Request) -> Response:
    form = await web.form(request)
    return PlainTextResponse(f"changed {form.get('what', '')}")


async def boom(request: Request) -> Response:
    raise RuntimeError("a secret path /home/anna/.env")


async def broken_store(request: Request) -> Response:
    raise PipelineError(
        "cannot open the state database /srv/nieuwsbrief/state/newsletter.sqlite3", "check it"
    )


def client(password: str | None = None, base: str = LOCAL, public: bool = False) -> TestClient:
    routes = [
        Route("/", hello), Route("/change", change, methods=["POST"]), Route("/boom", boom),
        Route("/store", broken_store),
    ]  # fmt: skip
    _app, guard = web.create_app(routes, password=password, max_body=1024, public=public)
    return TestClient(guard, base_url=base, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def local() -> Iterator[TestClient]:
    with client() as c:
        yield c


def token(c: TestClient) -> str:
    return c.get("/").text.removeprefix("token=")


def test_loopback_is_free_and_any_other_address_needs_a_password() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        web.check_exposure(host, None, "PW")
    with pytest.raises(web.ExposureRefused) as refused:
        web.check_exposure("0.0.0.0", None, "NEWSLETTER_STUDIO_PASSWORD")
    assert refused.value.exit_code == 2
    assert refused.value.message == (
        "--host 0.0.0.0 would let anyone who can reach this computer use the service, and no password is set"
    )
    assert refused.value.hint == (
        "leave out --host to use it on this computer only (127.0.0.1), or set NEWSLETTER_STUDIO_PASSWORD "
        "to a long password first"
    )
    with pytest.raises(web.ExposureRefused, match="needs a longer password"):
        web.check_exposure("192.0.2.10", "short", "PW")
    web.check_exposure("192.0.2.10", "a long enough password", "PW")


def test_a_change_needs_the_token_from_this_origin(local: TestClient) -> None:
    t = token(local)
    assert local.post("/change", data={"what": "x"}).status_code == 403
    assert "no CSRF token" in local.post("/change", data={"what": "x"}).text
    assert local.post("/change", data={"what": "x", "csrf_token": "forged"}).status_code == 403
    ok = local.post("/change", data={"what": "x", "csrf_token": t})
    assert (ok.status_code, ok.text) == (200, "changed x")
    assert local.post("/change", headers={"X-CSRF-Token": t}).status_code == 200
    other = local.post("/change", data={"csrf_token": t}, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403 and "another site" in other.text


def test_only_loopback_host_names_are_served_without_a_password() -> None:
    with client(base="http://evil.example") as c:
        answer = c.get("/")
    assert answer.status_code == 421  # DNS rebinding: a page elsewhere cannot read the token


def test_bodies_over_the_limit_are_refused_whatever_they_claim(local: TestClient) -> None:
    t = token(local)
    big = local.post("/change", data={"csrf_token": t, "what": "x" * 2000})
    assert big.status_code == 413
    assert "larger than 1 KB" in big.text


def test_errors_show_no_stack_trace(local: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = local.get("/boom")
    assert answer.status_code == 500
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert "nothing was changed" in answer.text
    # The log has one line: what failed and where, without the traceback or the exception's text.
    [record] = [r for r in caplog.records if r.name.startswith("newsletter")]
    line = inspect.getsourcelines(boom)[1] + 1
    assert record.getMessage() == f"error: GET /boom failed: RuntimeError at {__file__}:{line} (boom)"
    assert record.exc_info is None and record.levelno == logging.ERROR
    missing = local.get("/nope", headers={"Accept": "application/json"})
    assert (missing.status_code, missing.json()) == (404, {"error": "There is no page at this address."})


def test_the_editor_reads_a_pipeline_error_and_the_public_reads_no_server_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with client() as c:
        studio = c.get("/store")
    assert studio.status_code == 400 and "/srv/nieuwsbrief/state" in studio.text  # the editor's own machine
    with client(base="http://nieuwsbrief.example.org", public=True) as c, caplog.at_level(logging.DEBUG):
        public = c.get("/store")
    assert public.status_code == 503
    assert "/srv" not in public.text and "sqlite3" not in public.text and "nothing was changed" in public.text
    [record] = [r for r in caplog.records if r.name.startswith("newsletter")]
    assert record.getMessage().startswith("error: GET /store failed: PipelineError at ")
    assert "/srv" not in record.getMessage()


def test_every_answer_carries_the_security_headers(local: TestClient) -> None:
    headers = local.get("/").headers
    assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


def test_with_a_password_every_page_needs_it() -> None:
    with client(password="correct horse battery") as c:
        first = c.get("/issue/2026-12?x=1")
        assert (first.status_code, first.headers["location"]) == (303, "/login?next=/issue/2026-12%3Fx%3D1")
        assert c.get("/", headers={"Accept": "application/json"}).status_code == 401
        login = c.get("/login")
        assert login.status_code == 200 and 'type="password"' in login.text
        form_token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert c.post("/login", data={"password": "correct horse battery"}).status_code == 403  # no token
        wrong = c.post("/login", data={"password": "guess", "csrf_token": form_token})
        assert wrong.status_code == 401 and "not the password" in wrong.text
        right = c.post("/login?next=/", data={"password": "correct horse battery", "csrf_token": form_token})
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = c.get("/")
        assert page.status_code == 200
        t = page.text.removeprefix("token=")
        assert t != form_token  # tokens are per session
        assert c.post("/change", data={"csrf_token": t, "what": "y"}).text == "changed y"
        # Off-site 'next' targets are not followed.
        assert (
            c.post(
                "/login?next=//evil.example/",
                data={"password": "correct horse battery", "csrf_token": form_token},
            ).headers["location"]
            == "/"
        )


def test_wrong_passwords_are_slowed_down() -> None:
    with client(password="correct horse battery") as c:
        t = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        codes = [c.post("/login", data={"password": "guess", "csrf_token": t}).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
