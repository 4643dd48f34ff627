"""Auth routes (wire-api.md §6.1): register, login, refresh rotation, logout, me, keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.params import FromPath

from db.users import token_version_of
from engine import (
    AccessKeyCreated,
    AccessKeyCreateRequest,
    AccessKeysView,
    AccessKeyView,
    InvitationView,
    LoginRequest,
    LoginView,
    MessageView,
    RegisterRequest,
    RevokedView,
    UserView,
    iso_z,
)
from production_server.auth.identity import CurrentUser, current_user, services_of
from production_server.auth.passwords import verify_password
from production_server.auth.repo import (
    check_credentials_shape,
    invitation_invalid,
    normalise_email,
    public_user,
    wall_now,
)
from production_server.auth.tokens import InvalidToken
from production_server.body import read_body
from production_server.errors import ApiError, not_found, unauthorized
from production_server.openapi import answers, request_body
from production_server.services import Services

LOGIN_FAILED = "Invalid username/email or password"
USER = {"user": Provide(current_user)}


def _cookie(services: Services, key: str, value: str, max_age: int, path: str) -> Cookie:
    s = services.settings
    return Cookie(key=key, value=value, max_age=max_age, path=path, httponly=True,
                  secure=s.cookie_secure, samesite=s.cookie_samesite, domain=s.cookie_domain)


def _clear_cookies(services: Services) -> list[Cookie]:
    return [_cookie(services, "access_token", "", 0, "/"),
            _cookie(services, "refresh_token", "", 0, "/auth")]


async def session_cookies(services: Services, request: Request[Any, Any, Any],
                           user: dict[str, Any]) -> list[Cookie]:
    """A new access/refresh pair; the refresh record is stored by hash (AUTH-3). The access
    token carries the user's current `token_version` (revocation, db/users.py)."""
    assert services.auth is not None
    user_id = str(user["user_id"])
    access = services.tokens.issue_access(user_id, token_version_of(user))
    refresh, jti, exp = services.tokens.issue_refresh(user_id)
    await services.auth.store_refresh(refresh, jti, user_id, exp,
                                      request.headers.get("user-agent"), client_address(request))
    s = services.settings
    return [_cookie(services, "access_token", access, s.access_token_ttl_s, "/"),
            _cookie(services, "refresh_token", refresh, s.refresh_token_ttl_s, "/auth")]


def client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


@post("/auth/register", status_code=201, dependencies=request_body(RegisterRequest),
      **answers(400, 409, 413, auth=False))
async def register(request: Request[Any, Any, Any]) -> Response[UserView]:
    services = services_of(request)
    s = services.settings
    body = await read_body(request, RegisterRequest, s.max_body_bytes, s.max_json_depth)
    check_credentials_shape(body.username, body.password)
    email = normalise_email(body.email)
    assert services.auth is not None
    if await services.auth.usable_invitation(body.invitation_code) is None:
        raise invitation_invalid()
    user = await services.auth.create_user(body.username, body.password, email=email,
                                           invitation_code=body.invitation_code)
    if not await services.auth.consume_invitation(body.invitation_code, user["user_id"],
                                                  client_address(request)):
        await services.auth.delete_user(user["user_id"])
        raise invitation_invalid()
    cookies = await session_cookies(services, request, user)
    return Response(UserView(**public_user(user)), status_code=201, cookies=cookies)


@post("/auth/login", status_code=200, dependencies=request_body(LoginRequest),
      **answers(400, 401, 413, 429, auth=False))
async def login(request: Request[Any, Any, Any]) -> Response[LoginView]:
    services = services_of(request)
    s = services.settings
    body = await read_body(request, LoginRequest, s.max_body_bytes, s.max_json_depth)
    identifier_key = "id:" + body.identifier.strip().lower()
    address_key = "ip:" + (client_address(request) or "unknown")
    if services.limiter.blocked(identifier_key, address_key):
        raise ApiError(429, "rate_limited", "Too many failed login attempts; try again later",
                       headers={"Retry-After": str(s.login_window_s)})
    assert services.auth is not None
    user = await services.auth.find_login_user(body.identifier)
    if user is None or not user.get("is_active") or \
            not verify_password(body.password, user.get("password_hash")):
        services.limiter.fail(identifier_key, address_key)
        raise ApiError(401, "unauthorized", LOGIN_FAILED)
    services.limiter.succeed(identifier_key)
    cookies = await session_cookies(services, request, user)
    return Response(LoginView(**public_user(user), message="Login successful"), cookies=cookies)


@post("/auth/refresh", status_code=200, **answers(401, auth=False))
async def refresh(request: Request[Any, Any, Any]) -> Response[MessageView]:
    """Rotate the refresh token; a just-rotated one still works within the grace window."""
    services = services_of(request)
    token = request.cookies.get("refresh_token")
    if not token:
        raise unauthorized()
    try:
        claims = services.tokens.decode(token, "refresh")
    except InvalidToken:
        raise unauthorized() from None
    assert services.auth is not None
    record = await services.auth.find_refresh(token)
    now = wall_now()
    if record is None or record.get("revoked_at") is not None or \
            record.get("token_id") != claims.get("jti") or record.get("user_id") != claims["sub"] \
            or record["expires_at"] <= now:
        raise unauthorized()
    user = await services.auth.get_user(str(record["user_id"]))
    if user is None or not user.get("is_active"):
        raise unauthorized()
    grace = timedelta(seconds=services.settings.refresh_rotation_grace_s)
    rotated = record.get("rotated_at")
    cookies = await session_cookies(services, request, user)
    successor = _refresh_jti(services, cookies)
    if rotated is None and await services.auth.mark_rotated(str(record["token_id"]), successor):
        return Response(MessageView(message="Token refreshed"), cookies=cookies)
    record = await services.auth.find_refresh(token) or record
    rotated = record.get("rotated_at")
    if rotated is not None and now - rotated < grace and record.get("revoked_at") is None:
        return Response(MessageView(message="Token refreshed"), cookies=cookies)
    await services.auth.revoke_refresh(successor)
    raise unauthorized()


def _refresh_jti(services: Services, cookies: list[Cookie]) -> str:
    value = next(c.value for c in cookies if c.key == "refresh_token")
    return str(services.tokens.decode(str(value), "refresh")["jti"])


@post("/auth/logout", status_code=200, **answers(auth=False))
async def logout(request: Request[Any, Any, Any]) -> Response[MessageView]:
    services = services_of(request)
    token = request.cookies.get("refresh_token")
    if token:
        try:
            services.tokens.decode(token, "refresh")
            assert services.auth is not None
            record = await services.auth.find_refresh(token)
            if record is not None:
                await services.auth.revoke_refresh(str(record["token_id"]))
        except InvalidToken:
            pass
    return Response(MessageView(message="Logged out"), cookies=_clear_cookies(services))


@post("/auth/logout-all", status_code=200, dependencies=USER, **answers())
async def logout_all(request: Request[Any, Any, Any], user: CurrentUser) -> Response[MessageView]:
    services = services_of(request)
    assert services.auth is not None
    await services.auth.end_all_sessions(user.user_id)
    return Response(MessageView(message="Logged out from all sessions"),
                    cookies=_clear_cookies(services))


@get("/auth/me", dependencies=USER, **answers())
async def me(user: CurrentUser) -> UserView:
    return UserView(**user.public())


@get("/auth/invitation/{code:str}", **answers(404, auth=False))
async def invitation(request: Request[Any, Any, Any], code: FromPath[str]) -> InvitationView:
    services = services_of(request)
    assert services.auth is not None
    doc = await services.auth.usable_invitation(code)
    if doc is None:
        raise not_found()
    return InvitationView(invitation_code=doc["code"], remaining_uses=doc["remaining_uses"],
                          expires_at=iso_z(doc.get("expires_at")))


@post("/auth/access-keys", status_code=201,
      dependencies={**USER, **request_body(AccessKeyCreateRequest)}, **answers(400, 413))
async def create_access_key(request: Request[Any, Any, Any],
                            user: CurrentUser) -> Response[AccessKeyCreated]:
    services = services_of(request)
    s = services.settings
    body = await read_body(request, AccessKeyCreateRequest, s.max_body_bytes, s.max_json_depth)
    assert services.auth is not None
    doc, key = await services.auth.create_access_key(user.user_id, body.name, body.expires_in_days)
    return Response(AccessKeyCreated(access_key_id=doc["access_key_id"], name=doc["name"],
                                     access_key=key, created_at=iso_z(doc["created_at"]),
                                     expires_at=iso_z(doc.get("expires_at"))), status_code=201)


@get("/auth/access-keys", dependencies=USER, **answers())
async def list_access_keys(request: Request[Any, Any, Any], user: CurrentUser) -> AccessKeysView:
    services = services_of(request)
    assert services.auth is not None
    keys = await services.auth.list_access_keys(user.user_id)
    now = wall_now()
    return AccessKeysView(access_keys=[AccessKeyView(
        access_key_id=k["access_key_id"], name=k["name"],
        created_at=iso_z(k.get("created_at")), last_used_at=iso_z(k.get("last_used_at")),
        expires_at=iso_z(k.get("expires_at")),
        is_active=bool(k.get("is_active")) and k.get("revoked_at") is None
        and (k.get("expires_at") is None or k["expires_at"] > now)) for k in keys])


@delete("/auth/access-keys/{access_key_id:str}", status_code=200, dependencies=USER,
        **answers(404))
async def revoke_access_key(request: Request[Any, Any, Any], user: CurrentUser,
                            access_key_id: FromPath[str]) -> RevokedView:
    services = services_of(request)
    assert services.auth is not None
    if not await services.auth.revoke_access_key(user.user_id, access_key_id):
        raise not_found()
    return RevokedView(revoked=True)


AUTH_ROUTES = [register, login, refresh, logout, logout_all, me, invitation, create_access_key,
               list_access_keys, revoke_access_key]
