"""What every request body of the API shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class StrictBody(BaseModel):
    # Unknown fields are an error, not ignored: nobody can make themselves admin by
    # sending {"role": "admin"} to /users/me.
    model_config = ConfigDict(extra="forbid")


def example(**fields: Any) -> ConfigDict:
    """A strict body's config with one example request for the OpenAPI document."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [fields]})
