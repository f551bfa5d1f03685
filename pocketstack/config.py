"""Configuration: an INI file (``pocketstack.conf``) with OpenStack's option names.

Every option is declared once, with a type, a default and a help text, so that
nothing needs configuring to start and ``pocketstack manage config list`` can show
the effective value of each option and where it came from.

Services declare their own options next to their code with :func:`register`;
the core options live here.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from typing import Any, Callable


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


_PARSERS: dict[type, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _bool,
    list: _list,
}


@dataclass(frozen=True)
class Opt:
    section: str
    name: str
    type: type
    default: Any
    help: str
    secret: bool = False


_REGISTRY: dict[tuple[str, str], Opt] = {}


def register(*opts: Opt) -> None:
    for opt in opts:
        _REGISTRY[(opt.section, opt.name)] = opt


def registered() -> list[Opt]:
    return sorted(_REGISTRY.values(), key=lambda o: (o.section != "DEFAULT", o.section, o.name))


register(
    Opt("DEFAULT", "debug", bool, False, "Log at DEBUG level."),
    Opt("DEFAULT", "region_name", str, "RegionOne", "Region of every catalog endpoint."),
    Opt("DEFAULT", "compute_driver", str, "fake", "Compute driver: fake, container or qemu."),
    Opt("DEFAULT", "public_endpoint_host", str, "",
        "Host name put in catalog URLs (defaults to the bind address)."),
    Opt("DEFAULT", "admin_password", str, "",
        "Password of the bootstrap admin; generated on first start when empty.", secret=True),
    Opt("DEFAULT", "wsgi_default_pool_size", int, 4,
        "Requests each service runs at once in worker threads (oslo.service's name; its "
        "greenthreads are cheap, Python threads share one interpreter lock: keep it small)."),
    Opt("database", "connection", str, "",
        "SQLAlchemy URL; empty means SQLite in the data dir (WAL mode)."),
    Opt("database", "connection_debug", int, 0, "Log SQL statements when >= 50."),
    Opt("database", "sqlite_synchronous", str, "NORMAL",
        "SQLite's synchronous pragma: NORMAL survives a process crash, FULL also power loss."),
    Opt("identity", "password_hash_algorithm", str, "argon2id",
        "Password hash: argon2id (default) or bcrypt."),
    Opt("identity", "password_hash_rounds", int, 2,
        "Cost: argon2id time cost (memory 19 MiB, OWASP's setting) or bcrypt log rounds."),
    Opt("identity", "default_domain_id", str, "default", "Domain used by v2-style requests."),
    Opt("identity", "list_limit", int, 0, "Maximum entities in a list (0: no limit)."),
    Opt("token", "expiration", int, 3600, "Token lifetime in seconds."),
    Opt("token", "allow_expired_window", int, 172800,
        "Seconds after expiry during which allow_expired validation succeeds."),
    Opt("token", "cache_time", int, 300, "Seconds a validated token stays in the local cache."),
    Opt("fernet_tokens", "key_repository", str, "",
        "Directory of Fernet keys (default: DATA_DIR/fernet-keys)."),
    Opt("fernet_tokens", "max_active_keys", int, 3, "Keys kept by a rotation."),
    Opt("security_compliance", "lockout_failure_attempts", int, 0,
        "Failed password attempts before a user is locked (0: never)."),
    Opt("security_compliance", "lockout_duration", int, 1800,
        "Seconds a locked user stays locked."),
    Opt("oslo_policy", "policy_file", str, "policy.yaml",
        "Policy overrides, relative to the data dir; re-read when it changes."),
    Opt("oslo_policy", "enforce_scope", bool, False,
        "Reject tokens whose scope does not match a rule's scope types."),
)


@dataclass
class Config:
    """Effective configuration: defaults, overridden by the INI file, then by code."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def load(cls, path: str | None = None, overrides: dict[tuple[str, str], Any] | None = None
             ) -> "Config":
        conf = cls(path=path)
        if path:
            if not os.path.exists(path):
                raise FileNotFoundError(f"config file not found: {path}")
            parser = configparser.ConfigParser(interpolation=None)
            parser.optionxform = str  # option names are case-sensitive, as oslo.config's
            parser.read(path)
            items = [("DEFAULT", k, v) for k, v in parser.defaults().items()]
            for section in parser.sections():
                for k, v in parser.items(section, raw=True):
                    if k not in parser.defaults() or parser.get(section, k) != parser.defaults()[k]:
                        items.append((section, k, v))
            for section, name, raw in items:
                opt = _REGISTRY.get((section, name))
                if opt is None:
                    # Unknown options are kept as strings (a service not loaded yet may own them).
                    conf.values[(section, name)] = raw
                else:
                    try:
                        conf.values[(section, name)] = _PARSERS[opt.type](raw)
                    except ValueError as exc:
                        raise ValueError(f"[{section}] {name}: {exc}") from None
                conf.sources[(section, name)] = path
        for key, value in (overrides or {}).items():
            conf.values[key] = value
            conf.sources[key] = "command line"
        return conf

    def get(self, section: str, name: str) -> Any:
        key = (section, name)
        if key in self.values:
            value = self.values[key]
            opt = _REGISTRY.get(key)
            if opt is not None and isinstance(value, str) and opt.type is not str:
                value = _PARSERS[opt.type](value)
                self.values[key] = value
            return value
        opt = _REGISTRY.get(key)
        if opt is None:
            raise KeyError(f"unknown option [{section}] {name}")
        return opt.default

    def set(self, section: str, name: str, value: Any, source: str = "runtime") -> None:
        self.values[(section, name)] = value
        self.sources[(section, name)] = source

    def source(self, section: str, name: str) -> str:
        return self.sources.get((section, name), "default")

    def effective(self) -> list[tuple[Opt, Any, str]]:
        """Every registered option with its value and source, secrets masked."""
        rows = []
        for opt in registered():
            value = self.get(opt.section, opt.name)
            if opt.secret and value:
                value = "****"
            rows.append((opt, value, self.source(opt.section, opt.name)))
        return rows
