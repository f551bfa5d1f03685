"""Console output and remote consoles (Nova's os-getConsoleOutput, os-get*Console,
remote-consoles and os-console-auth-tokens).

Console output comes from the driver (the fake driver keeps a log of what happened to
each guest), bounded to ``MAX_LINES`` lines and ``MAX_BYTES`` bytes whatever is asked.
A remote console is a token (in the database for ``[consoleauth] token_ttl`` seconds,
as Nova's console_auth_tokens: see :mod:`pocketstack.consoles.tokens`) and the URL of the
proxy of its kind (noVNC on 6080, serial on 6083, see :mod:`pocketstack.consoles.proxy`),
which checks the token and bridges the client to the driver's console.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.compute import states
from pocketstack.consoles.tokens import ConnectInfo, ConsoleAuthTokens, access_url

if TYPE_CHECKING:
    from pocketstack.compute.models import Instance
    from pocketstack.compute.service import ComputeService

MAX_LINES = 10000
MAX_BYTES = 100 * 1024  # Nova's libvirt MAX_CONSOLE_BYTES
# protocol -> (types, config section enabling it, base url option, driver console kind)
# (xvpvnc: its proxy left Nova in Ussuri; Nova answers 400 "Invalid console type")
PROTOCOLS = {"vnc": (("novnc",), "vnc", "novncproxy_base_url", "vnc"),
             "spice": (("spice-html5",), "spice", "html5proxy_base_url", "spice"),
             "serial": (("serial",), "serial_console", "base_url", "serial")}
_BUSY = (states.DELETING, "migrating")
# the proxies pocketstack serves: the default base URL of each, on the cloud's host
DEFAULT_URLS = {("vnc", "novncproxy_base_url"): "http://{host}:6080/vnc_auto.html",
                ("serial_console", "base_url"): "ws://{host}:6083/",
                ("spice", "html5proxy_base_url"): "http://{host}:6082/spice_auto.html"}


def base_url(conf: Any, host: str, section: str, option: str) -> str:
    configured = conf.get(section, option)
    if configured:
        return configured
    return DEFAULT_URLS[(section, option)].format(
        host=f"[{host}]" if ":" in host else host)


class Consoles:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.tokens = ConsoleAuthTokens(svc.cloud.db)
        svc.tasks.delete_hooks.append(self.tokens.delete_for_instance)

    def _ready(self, inst: "Instance", action: str) -> None:
        if not inst.host:
            raise errors.Conflict(f"Instance {inst.uuid} is not ready")
        if inst.task_state in _BUSY:
            raise self.svc.servers.invalid_state(inst, action, "task_state")

    def output(self, inst: "Instance", length: int | None) -> str:
        self._ready(inst, "get_console_output")
        from pocketstack.compute.tasks import driver_view

        lines = MAX_LINES if length is None or length < 0 else min(length, MAX_LINES)
        try:  # one more line than asked: the tail below counts the last newline's ""
            text = self.svc.driver.get_console_output(inst.host, driver_view(inst),
                                                      lines + 1)
        except NotImplementedError:
            raise errors.NotImplementedYet("Unable to get console output, functionality "
                                           "not implemented") from None
        # Nova's tail: the last ``length`` items of the log split on newlines
        text = "\n".join(text.split("\n")[-lines:]) if lines else ""
        text = re.sub("[\x00-\x08\x0b-\x1f]", "", text)  # as Nova: no control chars
        data = text.encode("utf-8", "replace")[-MAX_BYTES:]
        return data.decode("utf-8", "replace")

    def remote(self, inst: "Instance", protocol: str, kind: str) -> str:
        """A console URL with a fresh token; Nova's errors when the type is unknown (400),
        disabled (400 ConsoleTypeUnavailable), the server not on a host (409) or the
        driver has no such console (501)."""
        conf = self.svc.cloud.conf
        if protocol not in PROTOCOLS or kind not in PROTOCOLS[protocol][0]:
            raise errors.BadRequest(f"Invalid console type {kind}")
        _types, section, url_opt, driver_kind = PROTOCOLS[protocol]
        if not conf.get(section, "enabled"):
            raise errors.BadRequest(f"Unavailable console type {kind}.")
        self._ready(inst, f"get_{protocol}_console")
        from pocketstack.compute.tasks import driver_view

        try:
            where = self.svc.driver.get_remote_console(inst.host, driver_view(inst),
                                                       driver_kind)
        except NotImplementedError:
            raise errors.NotImplementedYet(f"Unable to get {protocol} console, "
                                           "functionality not implemented") from None
        base = base_url(conf, self.svc.cloud.host, section, url_opt)
        token = self.tokens.authorize(inst.uuid, kind, where,
                                      conf.get("consoleauth", "token_ttl"), base)
        return access_url(base, kind, token)

    def token(self, token: str) -> ConnectInfo | None:
        return self.tokens.validate(token)
