"""`POST /token` (RFC 6749), `POST /revoke` (RFC 7009) and the authorization server's
metadata (RFC 8414). Thin: parse, call, return; the OAuth rules are in `auth.oauth`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request, Response

from authapi.auth import oauth
from authapi.core.lazy_imports import imported_on_first_use
from authapi.deps import AuthServiceDep
from authapi.http_errors import error_responses
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.auth import schemas
else:
    schemas = imported_on_first_use("authapi.auth.schemas")

router = APIRouter(tags=["oauth2"], route_class=oauth.OAuthRoute)
metadata_router = APIRouter(tags=["oauth2"], route_class=DeferredAPIRoute)


@router.post(
    "/token",
    responses=oauth.oauth_responses(429),
    summary="OAuth2 token endpoint: password grant (password immediately followed by the "
    "6-digit code) or refresh-token grant",
)
def token(
    form: Annotated[schemas.TokenRequest, Form()], service: AuthServiceDep
) -> schemas.TokensOut:
    return schemas.TokensOut.model_validate(oauth.grant(service, form))


@router.post(
    "/revoke",
    response_class=Response,
    responses={
        200: {"description": "Revoked, or not a live token: the answer is the same."},
        **oauth.oauth_responses(),
    },
    summary="RFC 7009: revoke a refresh or access token; its session ends",
)
def revoke(form: Annotated[schemas.RevokeRequest, Form()], service: AuthServiceDep) -> Response:
    service.revoke(form.token)
    return Response(status_code=200)


@metadata_router.get(
    "/.well-known/oauth-authorization-server",
    responses=error_responses(),
    summary="RFC 8414 authorization server metadata",
)
def authorization_server_metadata(
    request: Request, response: Response
) -> schemas.AuthorizationServerMetadataOut:
    issuer = oauth.issuer_url(request)
    # Public data, the same for everyone: caching is fine.
    response.headers["Cache-Control"] = "public, max-age=3600"
    return schemas.AuthorizationServerMetadataOut(
        issuer=issuer,
        token_endpoint=f"{issuer}/token",
        revocation_endpoint=f"{issuer}/revoke",
        jwks_uri=f"{issuer}/.well-known/jwks.json",
        grant_types_supported=list(oauth.GRANT_TYPES),
        # No authorization endpoint, hence no response types.
        response_types_supported=[],
        token_endpoint_auth_methods_supported=["none"],
        revocation_endpoint_auth_methods_supported=["none"],
        service_documentation=f"{issuer}/docs",
    )
