"""Request and response bodies of the auth routes."""

# The OpenAPI example requests below contain made-up passwords and tokens.
# ruff: noqa: S106

from __future__ import annotations

from typing import Annotated, Literal

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
