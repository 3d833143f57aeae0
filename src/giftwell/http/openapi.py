"""OpenAPI descriptions of routes that read their requests by hand (the dialects read raw bodies
to give the vendor's own errors): what the request looks like, for clients and for the fuzz tests,
written as `openapi_extra` beside the route. Each dialect serves its description at its mount's
`/openapi.json`."""

from __future__ import annotations

from typing import Any


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body of `schema`."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def parameter(name: str, where: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    """One parameter `where` is "query", "header" or "path"."""
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema}


def operation(*, body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route: its body and parameters."""
    extra: dict[str, Any] = json_body(body) if body is not None else {}
    if parameters:
        extra["parameters"] = parameters
    return extra


def object_schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


STRING = {"type": "string"}


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's JSON schema with its `$defs` written in place (for models without
    recursion), so it stands alone inside any document."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out
