"""JSON Web Tokens (RFC 7519, RFC 8725 best practices).

Each token kind has its own `typ` header *and* its own audience, and decoding checks
both, so an mfa_token is never accepted where an access token is expected and vice
versa. The algorithm list is pinned on decode (no `alg: none`, no algorithm confusion).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jwt

from authapi.core import clock
from authapi.core.errors import NotAuthenticated

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]


class TokenKind(Enum):
    ACCESS = ("at+jwt", "")  # RFC 9068 media type for access tokens
    MFA = ("mfa+jwt", ":mfa")

    @property
    def typ(self) -> str:
        return self.value[0]

    def audience(self, base_audience: str) -> str:
        return base_audience + self.value[1]


@dataclass(frozen=True)
class TokenIssuer:
    key: str
    issuer: str
    audience: str

    def issue(self, kind: TokenKind, subject: str, ttl_seconds: int, claims: dict[str, Any]) -> str:
        issued_at = int(clock.now())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": kind.audience(self.audience),
            "sub": subject,
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self.key, algorithm=ALGORITHM, headers={"typ": kind.typ})

    def decode(self, kind: TokenKind, token: str) -> dict[str, Any]:
        """Return the verified claims, or raise NotAuthenticated for any defect."""
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=kind.audience(self.audience),
                issuer=self.issuer,
                # Expiry is checked below against the service clock (`clock.now`), the
                # same clock that stamped `iat`/`exp`; everything else is pyjwt's job.
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated() from exc
        if decoded["header"].get("typ") != kind.typ:
            raise NotAuthenticated()
        claims: dict[str, Any] = decoded["payload"]
        expires_at = claims["exp"]
        if not isinstance(expires_at, int) or expires_at <= clock.now():
            raise NotAuthenticated()
        if not isinstance(claims["sub"], str):
            raise NotAuthenticated()
        return claims
