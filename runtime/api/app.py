"""The ASGI application: the Step Functions API at ``POST /`` and the web console.

::

    app = create_app(EngineBackend(engine), auth_token=None)
    uvicorn.run(app, host="127.0.0.1", port=8083)

Every request passes :class:`Guard` first: the body-size limit, the access token (when one is
configured) and, without a token, a loopback ``Host`` check that defeats DNS rebinding. The
API answers every failure with AWS's error shape and never with a stack trace; the console's
only state-changing endpoint needs the per-process CSRF token that the page embeds.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import anyio.to_thread
from kbflow.errors import KbflowError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .backend import EngineBackend
from .console import ConsoleRoutes
from .operations import ASYNC_OPERATIONS, OPERATIONS, Settings
from .protocol import (
    ApiError,
    Params,
    dumps,
    error_body,
    from_kbflow_error,
    parse_body,
    parse_target,
)

__all__ = ["AppConfig", "Guard", "Pages", "create_app"]

JSON = Any
log = logging.getLogger("kbflow.console")
MAX_BODY: Final = 2 * 1024 * 1024
TOKEN_HEADER: Final = "x-kbflow-token"
TOKEN_COOKIE: Final = "kbflow_token"
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_JSON_TYPES: Final = ("application/x-amz-json", "application/json")


@dataclass(slots=True)
class AppConfig:
    """How the app protects itself.

    Attributes:
        auth_token: when set, every request must carry it (header ``X-Kbflow-Token``, cookie
            ``kbflow_token``, or ``?token=`` on a page load, which sets the cookie).
        max_body: the largest request body accepted, in bytes.
        settings: API limits (activity long poll, StartSyncExecution wait).
        csrf_token: the token the console's forms send back (random per process).
    """

    auth_token: str | None = None
    max_body: int = MAX_BODY
    settings: Settings = field(default_factory=Settings)
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def _aws_error(code: str, message: str, status: int, *, api: bool = True) -> Response:
    # Browsers would download an x-amz-json page; they get the same body as plain JSON.
    return Response(
        dumps(error_body(code, message)),
        status_code=status,
        media_type="application/x-amz-json-1.0" if api else "application/json",
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """ASGI middleware: body-size limit, access token, loopback Host check.

    Args:
        app: the wrapped application.
        config: the limits and tokens.
    """

    def __init__(self, app: ASGIApp, config: AppConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope) -> Response | None:
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.config.max_body):
            return _aws_error("ValidationException", "The request body is too large", 413)
        if self.config.auth_token is None:
            host = (
                (_header(scope, b"host") or "").rsplit(":", 1)[0]
                if not (_header(scope, b"host") or "").startswith("[")
                else "[::1]"
            )
            if host not in LOOPBACK:
                return _aws_error(
                    "AccessDeniedException",
                    "Host not allowed",
                    403,
                    api=scope.get("method") == "POST",
                )
            return None
        if not self._authorised(scope):
            return _aws_error(
                "AccessDeniedException",
                "Missing or wrong access token (X-Kbflow-Token header, or open "
                "/?token=TOKEN in a browser)",
                401,
                api=scope.get("method") == "POST",
            )
        return None

    def _authorised(self, scope: Scope) -> bool:
        expected = self.config.auth_token or ""
        offered = [_header(scope, TOKEN_HEADER.encode())]
        cookies = _header(scope, b"cookie") or ""
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == TOKEN_COOKIE:
                offered.append(value)
        if scope.get("method") == "GET" and scope.get("path") == "/":
            query = scope.get("query_string", b"").decode("latin-1")
            for part in query.split("&"):
                name, _, value = part.partition("=")
                if name == "token":
                    offered.append(value)
        return any(
            o is not None and hmac.compare_digest(o.encode(), expected.encode()) for o in offered
        )

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.config.max_body

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        return wrapped


class _TooLarge(Exception):
    pass


class Api:
    """``POST /``: the Step Functions JSON 1.0 endpoint."""

    def __init__(self, backend: EngineBackend, config: AppConfig) -> None:
        self.backend = backend
        self.config = config

    async def handle(self, request: Request) -> Response:
        """Answer one API request."""
        try:
            op = parse_target(request.headers.get("x-amz-target"))
            ctype = request.headers.get("content-type", "")
            if not ctype.startswith(_JSON_TYPES):
                raise ApiError(
                    "SerializationException", "Content-Type must be application/x-amz-json-1.0"
                )
            try:
                raw = await request.body()
            except _TooLarge:
                raise ApiError(
                    "ValidationException", "The request body is too large", status=413
                ) from None
            params = Params(parse_body(raw))
            result = await self._dispatch(op, params)
        except ApiError as err:
            return _aws_error(err.code, err.message, err.status)
        except KbflowError as exc:
            refused = from_kbflow_error(exc)
            return _aws_error(refused.code, refused.message, refused.status)
        except Exception as exc:  # noqa: BLE001 - never a stack trace on the wire
            # The type only: a message could quote a request (and a request a task token).
            log.error(
                "internal error in %s: %s", request.headers.get("x-amz-target"), type(exc).__name__
            )
            return _aws_error("InternalFailure", "The server encountered an internal error", 500)
        return Response(dumps(result), media_type="application/x-amz-json-1.0")

    async def _dispatch(self, op: str, params: Params) -> dict[str, JSON]:
        settings = self.config.settings
        if op in ASYNC_OPERATIONS:
            return await ASYNC_OPERATIONS[op](self.backend, params, settings)
        handler = OPERATIONS.get(op)
        if handler is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {op}")
        return await anyio.to_thread.run_sync(handler, self.backend, params, settings)


def _page(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


class Pages:
    """The console page and its one state-changing endpoint (CSRF-checked).

    Args:
        console: the console's JSON endpoints.
        config: tokens and limits.
    """

    def __init__(self, console: ConsoleRoutes, config: AppConfig) -> None:
        self.console = console
        self.config = config
        self.index = _page("index.html").replace("{{CSRF_TOKEN}}", config.csrf_token)

    async def home(self, request: Request) -> Response:
        """The single-page console; ``?token=`` becomes an HttpOnly cookie."""
        response = HTMLResponse(self.index, headers=_PAGE_HEADERS)
        token = request.query_params.get("token")
        if self.config.auth_token and token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    async def decide(self, request: Request) -> Response:
        """A review decision: needs the page's CSRF token and, if sent, a same-origin Origin."""
        offered = request.headers.get("x-csrf-token", "")
        origin = request.headers.get("origin")
        if not hmac.compare_digest(offered.encode(), self.config.csrf_token.encode()) or (
            origin is not None and origin.split("://", 1)[-1] != request.headers.get("host")
        ):
            return Response(
                dumps({"message": "CSRF check failed"}),
                status_code=403,
                media_type="application/json",
            )
        try:
            return await self.console.decide(request)
        except _TooLarge:
            return Response(
                dumps({"message": "The request body is too large"}),
                status_code=413,
                media_type="application/json",
            )


def create_app(backend: EngineBackend, config: AppConfig | None = None) -> ASGIApp:
    """Build the ASGI app (API + console) over ``backend``.

    Args:
        backend: the executions' backend.
        config: security settings and limits (defaults: no token, 2 MiB bodies).

    Returns:
        The application, wrapped in :class:`Guard`.
    """
    config = config or AppConfig()
    console = ConsoleRoutes(backend)
    pages = Pages(console, config)
    static = StaticFiles(directory=str(resources.files(__package__).joinpath("static")))
    routes = [
        Route("/", Api(backend, config).handle, methods=["POST"]),
        Route("/", pages.home, methods=["GET"]),
        Route("/console/api/state-machines", console.state_machines),
        Route("/console/api/state-machine", console.state_machine),
        Route("/console/api/executions", console.executions),
        Route("/console/api/execution", console.execution),
        Route("/console/api/execution/stream", console.stream),
        Route("/console/api/reviews", console.reviews),
        Route("/console/api/reviews/decide", pages.decide, methods=["POST"]),
        Mount("/static", app=static, name="static"),
    ]
    return Guard(Starlette(routes=routes), config)


_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
