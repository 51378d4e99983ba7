"""`basicAuth`: username and password checked against an htpasswd user list.

bcrypt and apr1 cost milliseconds of CPU, so the check runs in a worker thread (never on the event
loop), and successful checks are remembered (by a digest of user, password and hash; bounded) so
a client sending the same credentials on every request pays the cost once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections import OrderedDict

from gateway.config.model import Route
from gateway.config.model_auth import AuthMode, BasicAuth
from gateway.errors import BasicAuthFailed
from gateway.policies import credentials, htpasswd
from gateway.policies.base import Exchange, Policy, Services

_CACHE_SIZE = 1024


class BasicAuthPolicy(Policy):
    name = "basicAuth"

    def __init__(self, cfg: BasicAuth, services: Services) -> None:
        self.cfg = cfg
        self.services = services
        self._hashes = {u.name: u.hash for u in cfg.users}
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        realm = (cfg.realm or "Restricted").replace('"', "")
        self._challenge = (b"www-authenticate", f'Basic realm="{realm}"'.encode())

    def _fail(self, detail: str) -> BasicAuthFailed:
        err = BasicAuthFailed(f"basic authentication failure: {detail}")
        err.headers.append(self._challenge)
        return err

    async def on_request(self, ex: Exchange) -> None:
        loc = self.cfg.location
        token = credentials.read(ex.req, loc)
        if token is None:
            if self.cfg.mode is AuthMode.STRICT:
                raise self._fail("no basic authentication credentials found")
            return
        credentials.remove(ex.req, loc)
        try:
            user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if not sep:
            raise self._fail("invalid credentials")
        if not await self.check(user, password):
            raise self._fail("invalid credentials")
        if self.services.config.process.standard_attributes is None:
            ex.user = user

    async def check(self, user: str, password: str) -> bool:
        hashed = self._hashes.get(user)
        if hashed is None:
            return False
        memo = hashlib.sha256(f"{user}\0{password}\0{hashed.reveal()}".encode()).digest()
        if memo in self._verified:
            self._verified.move_to_end(memo)
            return True
        ok = await asyncio.to_thread(htpasswd.verify, password, hashed.reveal())
        if ok:
            self._verified[memo] = None
            if len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return ok


def build(route: Route, services: Services) -> Policy | None:
    cfg = route.policies.basic_auth
    return BasicAuthPolicy(cfg, services) if cfg is not None else None
