"""Request and response bodies of the users routes."""

# The OpenAPI example requests below contain made-up passwords and tokens.
# ruff: noqa: S106

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from authapi.core.schemas import StrictBody, example
from authapi.users.domain import Role

Username = Annotated[str, Field(min_length=3, max_length=32, examples=["alice"])]
Email = Annotated[str, Field(min_length=3, max_length=254, examples=["alice@example.com"])]
FullName = Annotated[str, Field(max_length=128, examples=["Alice Liddell"])]


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
    password: Annotated[str, Field(min_length=1, max_length=1024)]
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

    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class RecoveryCodesRequest(StrictBody):
    model_config = example(password="correct horse battery staple", code="123456")

    password: Annotated[str, Field(min_length=1, max_length=1024)]
    code: Annotated[str, Field(min_length=1, max_length=64, examples=["123456"])]


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once only.")
