"""Request and response bodies of the users routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from authapi.users.domain import Role

Username = Annotated[str, Field(min_length=3, max_length=32, examples=["alice"])]
Email = Annotated[str, Field(min_length=3, max_length=254, examples=["alice@example.com"])]
FullName = Annotated[str, Field(max_length=128, examples=["Alice Liddell"])]


class StrictBody(BaseModel):
    # Unknown fields are an error, not ignored: nobody can make themselves admin by
    # sending {"role": "admin"} to /users/me.
    model_config = ConfigDict(extra="forbid")


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
    username: Username
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    full_name: FullName | None = None
    role: Role = Role.USER


class ProfileUpdate(StrictBody):
    """Only the fields sent change; an empty full_name clears it."""

    full_name: FullName | None = None
    email: Email | None = None
    username: Username | None = None


class AdminUserUpdate(StrictBody):
    """An admin's change to a user; only the fields sent change."""

    full_name: FullName | None = None
    email: Email | None = None
    role: Role | None = None
    disabled: bool | None = None


class PasswordChange(StrictBody):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class RecoveryCodesRequest(StrictBody):
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    code: Annotated[str, Field(min_length=1, max_length=64, examples=["123456"])]


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once only.")
