"""Request and response bodies of the passkey routes (WebAuthn Level 3 JSON forms)."""

# The OpenAPI example requests below contain made-up passwords and tokens.
# ruff: noqa: S106

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from authapi.auth.schemas import Out, TokenString
from authapi.core.schemas import StrictBody, example

# What `PublicKeyCredential.toJSON()` gives; checked by py_webauthn, bounded by the
# body size limit.
CredentialJson = Annotated[
    dict[str, Any],
    Field(
        description="The browser's `PublicKeyCredential.toJSON()` "
        "(RegistrationResponseJSON or AuthenticationResponseJSON)."
    ),
]
PasskeyName = Annotated[str, Field(min_length=1, max_length=64, examples=["My laptop"])]
PublicKeyOptions = Annotated[
    dict[str, Any],
    Field(
        description="PublicKeyCredentialCreationOptionsJSON or "
        "PublicKeyCredentialRequestOptionsJSON, for `PublicKeyCredential.parse…FromJSON()`."
    ),
]


class RegistrationOptionsRequest(StrictBody):
    model_config = example(password="correct horse battery staple")

    password: Annotated[str, Field(min_length=1, max_length=1024)]


class PasskeyRegistration(StrictBody):
    credential: CredentialJson
    name: PasskeyName | None = None


class PasskeyRename(StrictBody):
    name: PasskeyName


class PasswordlessOptionsRequest(StrictBody):
    """An empty object: the passkey names the user."""


class PasswordlessVerifyRequest(StrictBody):
    passkey_token: TokenString
    credential: CredentialJson


class OptionsOut(Out):
    publicKey: PublicKeyOptions  # the WebAuthn JSON name


class PasswordlessOptionsOut(OptionsOut):
    passkey_token: str = Field(description="Send it back with the credential (single use).")


class PasskeyOut(Out):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class PasskeyList(Out):
    items: list[PasskeyOut]
