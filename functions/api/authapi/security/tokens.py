"""JSON Web Tokens (RFC 7519, RFC 8725 best practices), signed with Ed25519.

Asymmetric signing means other services verify access tokens with the public keys
at /.well-known/jwks.json and never hold anything that could mint one. Each token
kind has its own `typ` header *and* its own audience, and decoding checks both, so an
mfa_token is never accepted where an access token is expected and vice versa. The
algorithm list is pinned on decode (no `alg: none`, no HS256-with-the-public-key), and
the `kid` must name a key of ours.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from authapi.core import clock
from authapi.core.errors import NotAuthenticated
from authapi.security import jws
from authapi.security.keys import SigningKeys

_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
# Every token is stamped by one of our containers, whose clocks agree far better than
# this; a token "issued" further in the future was not made by us (RFC 7519 §4.1.6,
# RFC 8725 §3.10) and could otherwise outlive any expiry policy.
IAT_LEEWAY_SECONDS = 30


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
    keys: SigningKeys
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
        return jws.sign(payload, self.keys.private_key, {"typ": kind.typ, "kid": self.keys.kid})

    def decode(self, kind: TokenKind, token: str) -> dict[str, Any]:
        """Return the verified claims, or raise NotAuthenticated for any defect."""
        try:
            kid = jws.unverified_header(token).get("kid")
            public_key = self.keys.public_keys.get(kid) if isinstance(kid, str) else None
            if public_key is None:
                raise NotAuthenticated()
            header, claims = jws.verify(token, public_key)
        except jws.InvalidToken as exc:
            raise NotAuthenticated() from exc
        if header.get("typ") != kind.typ:
            raise NotAuthenticated()
        if any(name not in claims for name in _REQUIRED_CLAIMS):
            raise NotAuthenticated()
        if claims["iss"] != self.issuer or claims["aud"] != kind.audience(self.audience):
            raise NotAuthenticated()
        # Expiry is checked against the service clock (`clock.now`), the same clock that
        # stamped `iat`/`exp`.
        expires_at, issued_at = claims["exp"], claims["iat"]
        now = clock.now()
        if not isinstance(expires_at, int) or expires_at <= now:
            raise NotAuthenticated()
        if not isinstance(issued_at, int) or issued_at > now + IAT_LEEWAY_SECONDS:
            raise NotAuthenticated()
        if not isinstance(claims["sub"], str):
            raise NotAuthenticated()
        return claims
