"""Access tokens, refresh tokens and sign-out: revocation takes effect at once."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from authapi.users import repository
from authapi.users.models import USER_SK, UserItem, user_pk
from tests.support import Directory


def _refresh(client: TestClient, refresh_token: str) -> tuple[int, dict[str, object]]:
    response = client.post("/auth/refresh", json={"refresh_token": refresh_token})
    return response.status_code, response.json()


def _me(client: TestClient, access_token: str) -> int:
    return client.get("/users/me", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_refresh_rotates_and_the_new_tokens_work(client: TestClient, directory: Directory) -> None:
    account = directory.user()
    status, body = _refresh(client, account.tokens["refresh_token"])
    assert status == 200
    assert body["refresh_token"] != account.tokens["refresh_token"]
    assert isinstance(body["access_token"], str)
    assert _me(client, body["access_token"]) == 200
    # The refresh lifetime is absolute: rotation never extends the session.
    assert body["refresh_expires_in"] == account.tokens["refresh_expires_in"]


def test_reusing_a_rotated_refresh_token_ends_the_whole_chain(
    client: TestClient, directory: Directory
) -> None:
    """OAuth 2.0 Security BCP §4.14.2: refresh token reuse revokes the chain."""
    account = directory.user()
    first = account.tokens["refresh_token"]
    status, second = _refresh(client, first)
    assert status == 200
    # An attacker replays the retired token ...
    assert _refresh(client, first) == (
        401,
        {"detail": "Not authenticated.", "code": "NOT_AUTHENTICATED"},
    )
    # ... and the legitimate successor dies with it, access token included.
    assert _refresh(client, str(second["refresh_token"]))[0] == 401
    assert _me(client, str(second["access_token"])) == 401


def test_other_sessions_survive_a_reuse_in_one_chain(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    laptop = dict(account.tokens)
    phone = directory.sign_in(account).tokens
    _refresh(client, laptop["refresh_token"])
    _refresh(client, laptop["refresh_token"])
    assert _me(client, phone["access_token"]) == 200
    assert _refresh(client, phone["refresh_token"])[0] == 200


def test_garbage_and_unknown_refresh_tokens_are_not_authenticated(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    for token in ["garbage", f"{account.id}.not-a-real-token", ".", "x" * 4096]:
        status, body = _refresh(client, token)
        assert (status, body["code"]) == (401, "NOT_AUTHENTICATED"), token


def test_refresh_token_expires(client: TestClient, directory: Directory) -> None:
    account = directory.user()
    directory.clock.advance(int(account.tokens["refresh_expires_in"]) + 1)
    assert _refresh(client, account.tokens["refresh_token"])[0] == 401


def test_access_token_expires(client: TestClient, directory: Directory) -> None:
    account = directory.user()
    directory.clock.advance(int(account.tokens["expires_in"]) + 1)
    assert _me(client, account.tokens["access_token"]) == 401


def test_asvs_7_4_1_logout_ends_this_session_only(client: TestClient, directory: Directory) -> None:
    """ASVS 5.0 7.4.1: after logout the session's access and refresh tokens are dead."""
    account = directory.user()
    laptop = dict(account.tokens)
    phone = directory.sign_in(account).tokens
    response = client.post(
        "/auth/logout",
        headers={"Authorization": f"Bearer {laptop['access_token']}"},
        json={"refresh_token": laptop["refresh_token"]},
    )
    assert response.status_code == 204
    assert response.content == b""
    assert _me(client, laptop["access_token"]) == 401
    assert _refresh(client, laptop["refresh_token"])[0] == 401
    assert _me(client, phone["access_token"]) == 200
    assert _refresh(client, phone["refresh_token"])[0] == 200


def test_asvs_7_4_2_logout_all_ends_every_session(client: TestClient, directory: Directory) -> None:
    """ASVS 5.0 7.4.2 / 8.3.2: logout-all revokes every access and refresh token at once."""
    account = directory.user()
    laptop = dict(account.tokens)
    phone = directory.sign_in(account).tokens
    response = client.post(
        "/auth/logout-all", headers={"Authorization": f"Bearer {phone['access_token']}"}
    )
    assert response.status_code == 204
    for tokens in (laptop, phone):
        assert _me(client, tokens["access_token"]) == 401
        assert _refresh(client, tokens["refresh_token"])[0] == 401
    # Signing in again works.
    directory.sign_in(account)
    assert _me(client, account.tokens["access_token"]) == 200


def test_disabled_user_cannot_use_an_existing_token(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    UserItem(user_pk(account.id), USER_SK).update(actions=[UserItem.disabled.set(True)])
    assert _me(client, account.tokens["access_token"]) == 401
    assert _refresh(client, account.tokens["refresh_token"])[0] == 401


def test_deleted_user_token_is_refused(client: TestClient, directory: Directory) -> None:
    account = directory.user()
    UserItem(user_pk(account.id), USER_SK).delete()
    assert _me(client, account.tokens["access_token"]) == 401


def test_logout_requires_an_access_token(client: TestClient, directory: Directory) -> None:
    account = directory.user()
    response = client.post("/auth/logout", json={"refresh_token": account.tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert _refresh(client, account.tokens["refresh_token"])[0] == 200


def test_each_signed_out_session_stays_revoked(client: TestClient, directory: Directory) -> None:
    """Sign-outs add to the revoked set without overwriting earlier ones, and entries
    are pruned only after the session's access tokens have expired anyway."""
    account = directory.user()
    sessions = [dict(account.tokens)] + [dict(directory.sign_in(account).tokens) for _ in range(2)]
    for tokens in sessions[:2]:
        response = client.post(
            "/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert response.status_code == 204
    assert [_me(client, tokens["access_token"]) for tokens in sessions] == [401, 401, 200]
    # Long after those tokens expired, a new sign-out prunes their entries.
    directory.clock.advance(int(account.tokens["expires_in"]) + 60)
    fresh = directory.sign_in(account).tokens
    client.post("/auth/logout", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    stored = repository.get_user(account.id)
    assert stored is not None
    assert list(stored.revoked_sessions) == [_session_id(fresh["access_token"])]
    assert _me(client, fresh["access_token"]) == 401


def _session_id(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])
