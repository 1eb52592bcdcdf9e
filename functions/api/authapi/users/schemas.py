"""Request and response bodies of the users routes."""

# The OpenAPI example requests below contain made-up passwords and tokens.
# ruff: noqa: S106

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from authapi.core.config import Settings
from authapi.core.schemas import StrictBody, example
from authapi.users.domain import USERNAME_PATTERN, Role

# The OpenAPI document states what the server enforces: these constraints are checked
# here, before the services' own checks (which stay: they guard every other caller).
Username = Annotated[
    str,
    Field(
        pattern=USERNAME_PATTERN,
        description="3 to 32 of a-z, 0-9, '.', '_' and '-'; case-insensitive (stored in "
        "lower case).",
        examples=["alice"],
    ),
]
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        description="An email address (checked for syntax, not deliverability); case-insensitive.",
        # idn-email: internationalized addresses (SMTPUTF8) are accepted too.
        json_schema_extra={"format": "idn-email"},
        examples=["alice@example.com"],
    ),
]
FullName = Annotated[str, Field(max_length=128, examples=["Alice Liddell"])]
# FastAPI builds its validators and the OpenAPI document from these types when the
# routes are declared, at import: so the password length limits, and only they, are
# read from the environment here, by the same `Settings.from_env` as at start-up.
_policy = Settings.from_env()
NewPassword = Annotated[
    str,
    Field(
        min_length=_policy.password_min_length,
        max_length=_policy.password_max_length,
        description="The password policy: this length, not containing the username, at "
        "least 5 different characters, not one of the ~30,000 most common passwords "
        "(the last three are answered 422 VALIDATION_ERROR).",
    ),
]
AnyPassword = Annotated[str, Field(min_length=1, max_length=1024)]


class UserOut(BaseModel):
    """A user as clients see it: never a hash, a TOTP secret or a recovery code."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    email: str
    full_name: str | None
    role: Role
    disabled: bool
    mfa_enabled: bool
    created_at: datetime | None
    updated_at: datetime | None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class UserCreate(StrictBody):
    model_config = example(
        username="alice",
        email="alice@example.com",
        password="correct horse battery staple",
        full_name="Alice Liddell",
        role="user",
    )

    username: Username
    email: Email
    password: NewPassword
    full_name: FullName | None = None
    role: Role = Role.USER


class ProfileUpdate(StrictBody):
    model_config = example(full_name="Alice Liddell")

    """Only the fields sent change; an empty full_name clears it."""

    full_name: FullName | None = None
    email: Email | None = None
    username: Username | None = None


class AdminUserUpdate(StrictBody):
    model_config = example(role="admin", disabled=False)

    """An admin's change to a user; only the fields sent change."""

    full_name: FullName | None = None
    email: Email | None = None
    role: Role | None = None
    disabled: bool | None = None


class PasswordChange(StrictBody):
    model_config = example(
        current_password="correct horse battery staple",
        new_password="a new and much longer passphrase",
    )

    current_password: AnyPassword
    new_password: NewPassword


class RecoveryCodesRequest(StrictBody):
    model_config = example(password="correct horse battery staple", code="123456")

    password: AnyPassword
    code: Annotated[str, Field(min_length=1, max_length=64, examples=["123456"])]


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once only.")
