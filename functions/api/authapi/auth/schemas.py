"""Request and response bodies of the auth routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Generous bounds: big enough for any real value, small enough that nobody makes the
# service hash or decode megabytes.
TokenString = Annotated[str, Field(min_length=1, max_length=4096)]
Code = Annotated[str, Field(min_length=1, max_length=64, examples=["123456"])]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    username: Annotated[str, Field(min_length=1, max_length=256, examples=["alice"])]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class MfaTokenRequest(Body):
    mfa_token: TokenString


class MfaCodeRequest(Body):
    mfa_token: TokenString
    code: Code


class RefreshRequest(Body):
    refresh_token: TokenString


class LogoutRequest(Body):
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
