"""Lowering of the client auth policies: jwtAuth, basicAuth, apiKey, authorization.

They may sit in route `policies` (binds/gateways dialects) or `llm.policies`; both lower to the
route's `Policies`. Every credential is checked and transformed at load (keys hashed, JWKS parsed,
htpasswd hashes recognised, CEL compiled) so a bad one fails startup with its YAML path and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from . import model_auth as ma
from .model import Secret
from .reader import Section, type_name
from .yamlnodes import YMap, YScalar, plain

_MODES = {m.value: m for m in ma.AuthMode}
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_RULE_KINDS = ("allow", "deny", "require")


def auth_fields(sec: Section) -> dict[str, Any]:
    """The `Policies` fields for whichever of the four keys `sec` (a policies block) has."""
    return {
        "jwt_auth": jwt_auth(sec.section("jwtAuth", "jwtAuth")),
        "basic_auth": basic_auth(sec.section("basicAuth", "basicAuth")),
        "api_key": api_key(sec.section("apiKey", "apiKey")),
        "authorization": authorization(sec.section("authorization", "authorization")),
    }


# -- shared pieces ---------------------------------------------------------------------------------


def _mode(sec: Section, allowed: tuple[ma.AuthMode, ...]) -> ma.AuthMode:
    text = sec.string("mode")
    if text is None:
        return ma.AuthMode.OPTIONAL
    mode = _MODES.get(text)
    if mode is None or mode not in allowed:
        sec.error("mode", f"expected one of {', '.join(m.value for m in allowed)}; got \"{text}\"")
        return ma.AuthMode.OPTIONAL
    return mode


def location(parent: Section, key: str, default: ma.CredentialLocation) -> ma.CredentialLocation:
    sec = parent.section(key, "credentialLocation")
    if sec is None:
        return default
    kinds = [k for k in ("header", "queryParameter", "cookie") if sec.has(k)]
    if len(kinds) != 1:
        if sec.pristine:
            sec.error(None, "expected exactly one of header, queryParameter, cookie")
        return default
    kind = kinds[0]
    inner = sec.section(kind, "credentialHeader" if kind == "header" else "credentialName")
    name = inner.string("name") if inner else None
    if inner is None or name is None:
        if inner is not None:
            inner.require("name")
        return default
    if kind == "header":
        return ma.CredentialLocation(kind, name.lower(), inner.string("prefix"))
    return ma.CredentialLocation(kind, name)


def _file_or_inline(parent: Section, key: str) -> str | None:
    node = parent.get(key)
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, YMap):
        parent.error(key, f"expected string or {{file: path}}, got {type_name(node) if node else 'null'}")
        return None
    sec = Section.open(parent.ctx, node, parent.sub(key), parent.schema.child(key), "fileOrUrl")
    if sec is None:
        return None
    path = sec.string("file")
    if path is None:
        sec.error(None, "expected a string or {file: path}")
        return None
    try:
        return Path(path).read_text()
    except OSError as e:
        sec.error("file", f"cannot read file: {e.strerror}")
        return None


# -- apiKey ------------------------------------------------------------------------------------------


def api_key(sec: Section | None) -> ma.ApiKeyAuth | None:
    if sec is None:
        return None
    sec.require("keys")
    keys = []
    seen: set[str] = set()
    for path, node, schema in sec.items("keys"):
        entry = _api_key_entry(Section.open(sec.ctx, node, path, schema, "apiKeyEntry"))
        if entry is None:
            continue
        digest = entry.digest.reveal()
        if digest in seen:
            sec.ctx.error(node.line, path, "duplicate API key (same key or keyHash listed twice)")
            continue
        seen.add(digest)
        keys.append(entry)
    return ma.ApiKeyAuth(
        keys=tuple(keys),
        mode=_mode(sec, tuple(ma.AuthMode)),
        location=location(sec, "location", ma.BEARER),
    )


def _api_key_entry(sec: Section | None) -> ma.ApiKeyEntry | None:
    if sec is None:
        return None
    if sec.has("key") == sec.has("keyHash"):
        if sec.pristine:
            sec.error(None, 'expected exactly one of "key", "keyHash"')
        return None
    digest: str | None = None
    if sec.has("key"):
        key = sec.string("key")
        if key is not None and not key:
            sec.error("key", "must not be empty")
        elif key is not None:
            digest = hashlib.sha256(key.encode()).hexdigest()
    else:
        text = sec.string("keyHash")
        if text is not None:
            algo, _, hexdigest = text.partition(":")
            if algo != "sha256" or not _SHA256_HEX.match(hexdigest):
                sec.error("keyHash", 'expected "sha256:" followed by 64 hex digits')
            else:
                digest = hexdigest.lower()
    models = sec.str_list("allowedModels") if sec.has("allowedModels") else None
    meta_node = sec.get("metadata")
    metadata = plain(meta_node) if meta_node is not None else None
    if digest is None:
        return None
    return ma.ApiKeyEntry(Secret(digest), metadata, models)


# -- basicAuth --------------------------------------------------------------------------------------

_HASH_PREFIXES = ("$2y$", "$2a$", "$2b$", "$apr1$", "{SHA}")


def basic_auth(sec: Section | None) -> ma.BasicAuth | None:
    if sec is None:
        return None
    sec.require("htpasswd")
    text = _file_or_inline(sec, "htpasswd") if sec.has("htpasswd") else None
    users = _htpasswd(sec, text) if text is not None else ()
    return ma.BasicAuth(
        users=users,
        realm=sec.string("realm"),
        mode=_mode(sec, (ma.AuthMode.STRICT, ma.AuthMode.OPTIONAL)),
        location=location(sec, "authorizationLocation", ma.BASIC),
    )


def _htpasswd(sec: Section, text: str) -> tuple[ma.HtpasswdUser, ...]:
    users = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name:
            sec.error("htpasswd", f'htpasswd line {n}: expected "user:hash"')
            continue
        if not hashed.startswith(_HASH_PREFIXES):
            # Never echo the hash; naming the line and user is enough to find it.
            sec.error("htpasswd", f'htpasswd line {n} (user "{name}"): unsupported hash; '
                                  "supported: bcrypt ($2y$/$2a$/$2b$), apr1 MD5 ($apr1$), SHA-1 ({SHA})")
            continue
        users.append(ma.HtpasswdUser(name, Secret(hashed)))
    return tuple(users)


# -- jwtAuth ---------------------------------------------------------------------------------------


def jwt_auth(sec: Section | None) -> ma.JwtAuth | None:
    if sec is None:
        return None
    providers: list[ma.JwtProvider] = []
    if sec.has("providers"):
        if sec.has("issuer") or sec.has("jwks"):
            sec.error("providers", 'use either "providers" or a single "issuer"/"jwks", not both')
        for path, node, schema in sec.items("providers"):
            provider = _jwt_provider(Section.open(sec.ctx, node, path, schema, "jwtProvider"))
            if provider is not None:
                providers.append(provider)
    else:
        provider = _jwt_provider(sec)
        if provider is not None:
            providers.append(provider)
    return ma.JwtAuth(
        providers=tuple(providers),
        mode=_mode(sec, tuple(ma.AuthMode)),
        location=location(sec, "location", ma.BEARER),
    )


def _jwt_provider(sec: Section | None) -> ma.JwtProvider | None:
    if sec is None:
        return None
    sec.require("issuer", "jwks")
    issuer = sec.string("issuer")
    jwks = _jwks(sec) if sec.has("jwks") else None
    audiences = sec.str_list("audiences")
    required: tuple[str, ...] = ("exp",)
    opts = sec.section("jwtValidationOptions", "jwtValidationOptions")
    if opts is not None and opts.has("requiredClaims"):
        required = opts.str_list("requiredClaims")
    if issuer is None or jwks is None:
        return None
    return ma.JwtProvider(issuer, jwks, audiences, required)


def _jwks(parent: Section) -> ma.JwksSource | None:
    node = parent.get("jwks")
    if isinstance(node, YMap) and "url" in node.index:
        sec = Section.open(parent.ctx, node, parent.sub("jwks"), parent.schema.child("jwks"), "fileOrUrl")
        url = sec.string("url") if sec else None
        if sec is not None and url is not None and not url.startswith(("http://", "https://")):
            sec.error("url", "expected an http:// or https:// URL")
            return None
        return ma.JwksSource(url=url) if url else None
    text = _file_or_inline(parent, "jwks")
    if text is None:
        return None
    try:
        return ma.JwksSource(keys=parse_jwks(text))
    except ValueError as e:
        parent.error("jwks", f"invalid JWKS: {e}")
        return None


def parse_jwks(text: str) -> tuple[dict[str, Any], ...]:
    """The usable keys of a JWKS document; raises ValueError when it is not one. Shared with the
    runtime fetcher so a URL's JWKS is held to the same rules as an inline one."""
    import jwt  # PyJWT; imported here so configs without jwtAuth never load it

    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at line {e.lineno})") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise ValueError('expected an object with a "keys" array')
    out = []
    for i, key in enumerate(keys):
        try:
            jwt.PyJWK(key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, TypeError, ValueError) as e:
            raise ValueError(f"key {i}: {e}") from None
        out.append(key)
    return tuple(out)


# -- authorization -----------------------------------------------------------------------------------


def authorization(sec: Section | None) -> ma.Authorization | None:
    if sec is None:
        return None
    from gateway.cel import CelError, compile_expression  # cel imports the policy layer; keep it lazy

    sec.require("rules")
    rules = []
    for path, node, schema in sec.items("rules"):
        rule = _rule(sec, path, node, schema)
        if rule is None:
            continue
        try:
            compile_expression(rule.expression)
        except CelError as e:
            sec.ctx.error(node.line, path, f"invalid CEL expression: {e}")
            continue
        rules.append(rule)
    return ma.Authorization(tuple(rules))


def _rule(sec: Section, path: str, node: Any, schema: Any) -> ma.AuthRule | None:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return ma.AuthRule("allow", node.value)
    rule = Section.open(sec.ctx, node, path, schema, "authRule")
    if rule is None:
        return None
    kinds = [k for k in _RULE_KINDS if rule.has(k)]
    if len(kinds) != 1:
        if rule.pristine:
            rule.error(None, "expected a CEL string or exactly one of allow, deny, require")
        return None
    expr = rule.string(kinds[0])
    return ma.AuthRule(kinds[0], expr) if expr is not None else None
