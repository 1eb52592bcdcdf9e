"""RFC 9110 §15.5.6: a 405 lists every method of the path in `Allow`; a literal path
(`/users/me`) is never answered by a template (`/users/{user_id}`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.main import create_app
from tests.support import Directory

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _documented_methods() -> dict[str, set[str]]:
    document = create_app(Settings.from_env()).openapi()
    return {path: {method.upper() for method in item} for path, item in document["paths"].items()}


@pytest.mark.parametrize(("path", "methods"), sorted(_documented_methods().items()))
def test_every_other_method_is_405_with_all_methods_in_allow(
    client: TestClient, path: str, methods: set[str]
) -> None:
    concrete = path.replace("{user_id}", "some-id")
    for method in sorted(set(HTTP_METHODS) - methods):
        response = client.request(method, concrete)
        assert response.status_code == 405, (method, path, response.text)
        assert set(response.headers["allow"].split(", ")) == methods, (method, path)
        if method != "HEAD":
            assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_post_users_me_lists_get_patch_and_put(client: TestClient) -> None:
    response = client.post("/users/me")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH, PUT"


def test_delete_users_me_never_reaches_the_admin_route(
    client: TestClient, directory: Directory
) -> None:
    """An admin's DELETE /users/me is not DELETE /users/{user_id} with "me"."""
    admin = directory.admin()
    response = client.delete("/users/me", headers=admin.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH, PUT"
    assert client.get("/users/me", headers=admin.headers).status_code == 200
