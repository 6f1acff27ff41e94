"""One JSON error shape everywhere: `{"error": {"code": str, "message": str, "details"?: [...]}}`.

A 503 (`not_ready` while starting, `store_unavailable` when the turn could not be saved) always carries
`Retry-After`: the message was not taken and may be sent again (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None


class ErrorOut(BaseModel):
    """The one error shape."""

    error: ErrorDetail


NOT_TAKEN: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorOut,
        "description": "The message was not taken: the bot is starting (`not_ready`) or the turn could not be saved "
        "(`store_unavailable`). Send it again after `Retry-After` seconds.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait before sending again.", "schema": {"type": "integer"}}
        },
    }
}
"""OpenAPI `responses=` for routes that take a customer message."""


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "payload_too_large", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
          503: "not_ready"}  # fmt: skip


def http_error_body(exc: StarletteHTTPException) -> dict[str, Any]:
    """An HTTPException in the error shape: its own `code` when it has one (`StoreUnavailable`:
    `store_unavailable`), else the code named after its status; its detail as the message. Its headers
    (`Retry-After` on 429 and 503) go on the response."""
    own = getattr(exc, "code", None)
    code = own if isinstance(own, str) else _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_body(code, message)


BODY_ERRORS: dict[str, dict[str, Any]] = {
    "400": {
        "description": "The body is not valid JSON (`invalid_json`).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    },
    "413": {
        "description": "The body is larger than `max_request_bytes` (`payload_too_large`).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    },
}
"""What any operation that takes a JSON body may answer before the route runs (this module's handler, the
body size limit of server/limits.py)."""


def document_body_errors(app: FastAPI) -> None:
    """Every operation that takes a JSON body may answer 400 `invalid_json` and 413 `payload_too_large`: say
    so in the OpenAPI schema, where the route did not already document its own 400 or 413."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        takes_json = [
            operation
            for path in schema.get("paths", {}).values()
            for operation in path.values()
            if "application/json" in operation.get("requestBody", {}).get("content", {})
        ]
        if takes_json:
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update({name: s for name, s in error.pop("$defs", {}).items() if name not in components})
            components.setdefault("ErrorOut", error)
        for operation in takes_json:
            responses = operation.setdefault("responses", {})
            for status, response in BODY_ERRORS.items():
                responses.setdefault(status, response)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    document_body_errors(app)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            message = (
                'the request body is not valid JSON — send a JSON object such as {"sender": "u1", "message": "hi"}'
            )
            return JSONResponse(error_body("invalid_json", message), status_code=400)
        fields = ", ".join(d["field"] or "body" for d in details)
        return JSONResponse(
            error_body("invalid_request", f"the request body is invalid ({fields}); see details", details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(http_error_body(exc), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), status_code=500)
