"""The identity domain layer, assembled: one object with each manager as an attribute."""

from __future__ import annotations

import os

from pocketstack.config import Config
from pocketstack.db import Database
from pocketstack.identity.appcreds import ApplicationCredentials
from pocketstack.identity.catalog import Catalog
from pocketstack.identity.credentials import Credentials
from pocketstack.identity.fernet import KeyRepository
from pocketstack.identity.passwords import Hasher
from pocketstack.identity.resource import Resources
from pocketstack.identity.revocations import Revocations
from pocketstack.identity.roles import Roles
from pocketstack.identity.tokens import TokenInfo, TokenProvider
from pocketstack.identity.users import Users


class Identity:
    def __init__(self, conf: Config, db: Database, data_dir: str) -> None:
        self.db = db
        key_dir = conf.get("fernet_tokens", "key_repository") or os.path.join(
            data_dir, "fernet-keys")
        self.token_keys = KeyRepository(key_dir, conf.get("fernet_tokens", "max_active_keys"))
        self.credential_keys = KeyRepository(os.path.join(data_dir, "credential-keys"), 3)
        self.token_keys.setup()
        self.credential_keys.setup()
        hasher = Hasher(conf.get("identity", "password_hash_algorithm"),
                        conf.get("identity", "password_hash_rounds"))
        self.tokens = TokenProvider(
            self, self.token_keys, expiration=conf.get("token", "expiration"),
            allow_expired_window=conf.get("token", "allow_expired_window"),
            cache_time=conf.get("token", "cache_time"))
        invalidate = self.tokens.invalidate
        self.revocations = Revocations(db, invalidate)
        self.resources = Resources(db, invalidate)
        self.users = Users(db, hasher, self.revocations, invalidate,
                           conf.get("security_compliance", "lockout_failure_attempts"),
                           conf.get("security_compliance", "lockout_duration"))
        self.roles = Roles(db, invalidate)
        self.catalog = Catalog(db)
        self.app_creds = ApplicationCredentials(db, hasher, self.revocations)
        self.credentials = Credentials(db, self.credential_keys)

    # -- the authenticator every service's pipeline uses ----------------------
    def cached(self, token: str) -> TokenInfo | None:
        return self.tokens.cached(token)

    def validate(self, token: str) -> TokenInfo:
        return self.tokens.validate(token)

    def written_elsewhere(self) -> None:
        """Another process (the main one, for a compute API worker) changed identity data:
        forget the validated tokens and the revocation events read so far."""
        self.revocations.forget()
        self.tokens.invalidate()
