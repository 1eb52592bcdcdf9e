"""Request and response bodies of the auth routes."""

# The OpenAPI example requests below contain made-up passwords and tokens.
# ruff: noqa: S106

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from authapi.core.schemas import StrictBody, example

# Generous bounds: big enough for any real value, small enough that nobody makes the
# service hash or decode megabytes.
TokenString = Annotated[str, Field(min_length=1, max_length=4096)]
Code = Annotated[str, Field(min_length=1, max_length=64, examples=["123456"])]


class LoginRequest(StrictBody):
    model_config = example(username="alice", password="correct horse battery staple")

    username: Annotated[str, Field(min_length=1, max_length=256, examples=["alice"])]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class MfaTokenRequest(StrictBody):
    model_config = example(mfa_token="eyJhbGciOiJFZERTQSIs...")

    mfa_token: TokenString


class MfaCodeRequest(StrictBody):
    model_config = example(mfa_token="eyJhbGciOiJFZERTQSIs...", code="123456")

    mfa_token: TokenString
    code: Code


class MfaPasskeyRequest(StrictBody):
    """Step two with a passkey instead of a code (docs/passkeys.md)."""

    mfa_token: TokenString
    credential: Annotated[
        dict[str, Any],
        Field(
            description="The passkey's `PublicKeyCredential.toJSON()` (AuthenticationResponseJSON)."
        ),
    ]


class RefreshRequest(StrictBody):
    model_config = example(refresh_token="<user id>.<random>")

    refresh_token: TokenString


class LogoutRequest(StrictBody):
    model_config = example(refresh_token="<user id>.<random>")

    refresh_token: TokenString | None = None


class Out(BaseModel):
    """Response bodies, built from the services' dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class MfaChallengeOut(Out):
    mfa_token: str
    mfa: Literal["totp", "setup"]
    expires_in: int
    methods: list[Literal["totp", "passkey", "recovery_code"]] = Field(
        description="The second factors the user has (empty while `mfa` is `setup`)."
    )


class TokensOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class EnrolledTokensOut(TokensOut):
    recovery_codes: list[str] = Field(
        description="Ten single-use recovery codes, shown this once only."
    )


class TotpEnrollmentOut(Out):
    secret: str
    otpauth_uri: str
    qr_svg: str


# ---- OAuth 2 (RFC 6749, RFC 7009, RFC 8414) ---------------------------------------------
# Forms ignore unknown parameters, as RFC 6749 §3.2 asks of an authorization server.


class PublicClientForm(BaseModel):
    """What an OAuth client may send to identify itself; accepted and ignored, since every
    client of this API is public (RFC 6749 §2.1)."""

    client_id: Annotated[
        str | None, Field(max_length=256, description="Ignored: every client is public.")
    ] = None
    client_secret: Annotated[
        str | None, Field(max_length=256, description="Ignored: every client is public.")
    ] = None


class TokenRequest(PublicClientForm):
    """`POST /token`: the password grant (password immediately followed by the 6-digit
    code) or the refresh-token grant. A missing `grant_type` means `password`."""

    grant_type: Annotated[
        str | None,
        Field(
            max_length=64,
            description="`password` (the default) or `refresh_token`; any other value is "
            "answered 400 `unsupported_grant_type`.",
            examples=["password"],
        ),
    ] = None
    # No length limits on the credentials (the 16 KiB body limit bounds them): any
    # value is a login attempt, failed and counted in the budget like every other.
    username: Annotated[str | None, Field(description="Password grant: required.")] = None
    password: Annotated[
        str | None,
        Field(
            description="Password grant: required. The password immediately followed by "
            "the current 6-digit TOTP code.",
        ),
    ] = None
    refresh_token: Annotated[
        str | None, Field(max_length=4096, description="Refresh-token grant: required.")
    ] = None
    scope: Annotated[str | None, Field(max_length=1024, description="Ignored.")] = None


class RevokeRequest(PublicClientForm):
    """`POST /revoke` (RFC 7009)."""

    token: Annotated[str, Field(min_length=1, max_length=4096)]
    token_type_hint: Annotated[
        str | None,
        Field(
            max_length=64,
            description="`refresh_token` or `access_token`; optional, since the server "
            "tells them apart itself.",
        ),
    ] = None


class AuthorizationServerMetadataOut(BaseModel):
    """RFC 8414 §2."""

    issuer: str
    token_endpoint: str
    revocation_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    service_documentation: str
