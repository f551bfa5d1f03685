"""The documents: the EC2-compatible tree and the OpenStack tree of one instance.

:func:`ec2_tree` and :func:`openstack_documents` turn an :class:`InstanceData` into
plain data; :class:`Documents` renders any path of either tree to bytes, once per
path (the service keeps a rendered :class:`Documents` per instance in its cache).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import itertools
import json
import os
from typing import Any

from pocketstack.metadata.fastserver import http_head
from pocketstack.metadata.source import InstanceData

EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
                "2008-02-01", "2008-09-01", "2009-04-04"]
OPENSTACK_VERSIONS = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
                      "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14"]
TEXT = "text/plain; charset=UTF-8"
JSON = "application/json"


def ec2_id(prefix: str, value: Any) -> str:
    if isinstance(value, int):
        return f"{prefix}-{value:08x}"
    digest = hashlib.sha256(str(value).encode()).hexdigest()[:8]
    return f"{prefix}-{digest}"


def fqdn(data: InstanceData, dhcp_domain: str) -> str:
    return f"{data.hostname}.{dhcp_domain}" if dhcp_domain else data.hostname


def user_data(data: InstanceData) -> bytes | None:
    if data.user_data is None:
        return None
    try:
        return base64.b64decode(data.user_data, validate=False)
    except (binascii.Error, ValueError):
        return data.user_data.encode()


def _first_ip(data: InstanceData, version: int) -> str:
    for port in data.ports:
        for ip in port.fixed_ips:
            if ipaddress.ip_address(ip["ip_address"]).version == version:
                return ip["ip_address"]
    return ""


def _at_least(version: str, wanted: str, order: list[str]) -> bool:
    return version == "latest" or order.index(version) >= order.index(wanted)


def ec2_tree(data: InstanceData, version: str, dhcp_domain: str) -> dict[str, Any]:
    """Nova's EC2 meta-data for ``version`` (a dict; nested dicts are folders)."""
    host = fqdn(data, dhcp_domain)
    public = next((f for p in data.ports for f in p.floating_ips), "")
    md: dict[str, Any] = {
        "ami-id": ec2_id("ami", data.image_ref), "ami-launch-index": data.launch_index,
        "ami-manifest-path": "FIXME", "instance-id": ec2_id("i", data.id), "hostname": host,
        "local-ipv4": _first_ip(data, 4), "reservation-id": data.reservation_id,
        "security-groups": data.security_groups,
    }

    def since(v: str) -> bool:
        return _at_least(version, v, EC2_VERSIONS)

    if since("2007-01-19"):
        md.update({"local-hostname": host, "public-hostname": host, "public-ipv4": public})
    if since("2007-03-01"):
        md["product-codes"] = []
    if since("2007-08-29"):
        md["instance-type"] = data.flavor_name
    if since("2007-12-15"):
        bdm = {"ami": "vda", "root": "/dev/vda"}
        if data.ephemeral_gb:
            bdm["ephemeral0"] = "/dev/vdb"
        if data.swap:
            bdm["swap"] = "/dev/vdc" if data.ephemeral_gb else "/dev/vdb"
        md["block-device-mapping"] = bdm
    if since("2008-02-01"):
        md["placement"] = {"availability-zone": data.availability_zone}
    if since("2008-09-01"):
        md["instance-action"] = "none"
    if data.key_name:
        md["public-keys"] = {"0": {"_name": f"0={data.key_name}",
                                   "openssh-key": data.key_data or ""}}
    return md


def network_data(data: InstanceData) -> dict[str, Any]:
    """network_data.json: links (one per port), networks (one per fixed IP), DNS services."""
    links, networks, services = [], [], []
    for port in data.ports:
        link = f"tap{port.id[:11]}"
        net = data.networks.get(port.network_id, {})
        links.append({"id": link, "vif_id": port.id, "type": "ovs",
                      "mtu": net.get("mtu"), "ethernet_mac_address": port.mac_address})
        for ip in port.fixed_ips:
            subnet = data.subnets.get(ip["subnet_id"])
            if subnet is None:
                continue
            num = len(networks)
            version = subnet.get("ip_version", 4)
            dns = [{"type": "dns", "address": a} for a in subnet.get("dns_nameservers") or []]
            for s in dns:
                if s not in services:
                    services.append(s)
            if version == 4 and subnet.get("enable_dhcp", True):
                networks.append({"id": f"network{num}", "type": "ipv4_dhcp", "link": link,
                                 "network_id": port.network_id})
                continue
            cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
            kind = "ipv4" if version == 4 else {
                "slaac": "ipv6_slaac", "dhcpv6-stateful": "ipv6_dhcpv6-stateful",
                "dhcpv6-stateless": "ipv6_dhcpv6-stateless"}.get(
                    subnet.get("ipv6_address_mode") or "", "ipv6")
            routes = []
            if subnet.get("gateway_ip"):
                default = "0.0.0.0" if version == 4 else "::"
                routes.append({"network": default, "netmask": default,
                               "gateway": subnet["gateway_ip"]})
            for r in subnet.get("host_routes") or []:
                dest = ipaddress.ip_network(r["destination"], strict=False)
                routes.append({"network": str(dest.network_address),
                               "netmask": str(dest.netmask), "gateway": r["nexthop"]})
            networks.append({"id": f"network{num}", "type": kind, "link": link,
                             "ip_address": ip["ip_address"], "netmask": str(cidr.netmask),
                             "routes": routes, "network_id": port.network_id,
                             "services": dns})
    return {"links": links, "networks": networks, "services": services}


def meta_data(data: InstanceData, version: str, dhcp_domain: str) -> dict[str, Any]:
    def since(v: str) -> bool:
        return _at_least(version, v, OPENSTACK_VERSIONS)

    md: dict[str, Any] = {"uuid": data.uuid, "availability_zone": data.availability_zone,
                          "hostname": fqdn(data, dhcp_domain), "launch_index": data.launch_index,
                          "meta": {str(k): str(v) for k, v in data.metadata.items()},
                          "name": data.name}
    if data.key_name:
        md["public_keys"] = {data.key_name: data.key_data or ""}
        md["keys"] = [{"name": data.key_name, "type": data.key_type,
                       "data": data.key_data or ""}]
    if since("2013-04-04"):
        md["random_seed"] = base64.b64encode(os.urandom(512)).decode()
    if since("2016-06-30"):
        md["devices"] = []
    if since("2016-10-06"):
        md["project_id"] = data.project_id
    if since("2020-10-14"):
        md["dedicated_cpus"] = []
    return md


def openstack_documents(data: InstanceData, version: str, dhcp_domain: str,
                        vendor: dict[str, Any], vendor2: dict[str, Any]
                        ) -> dict[str, dict[str, Any]]:
    """The JSON documents of one OpenStack metadata version, by file name."""
    docs = {"meta_data.json": meta_data(data, version, dhcp_domain)}
    if _at_least(version, "2013-10-17", OPENSTACK_VERSIONS):
        docs["vendor_data.json"] = vendor
    if _at_least(version, "2015-10-15", OPENSTACK_VERSIONS):
        docs["network_data.json"] = network_data(data)
    if _at_least(version, "2016-10-06", OPENSTACK_VERSIONS):
        docs["vendor_data2.json"] = vendor2
    return docs


def _listing(tree: dict[str, Any]) -> str:
    out = []
    for key in sorted(tree):
        value = tree[key]
        if key == "_name":
            continue
        if isinstance(value, dict):
            out.append(str(value["_name"]) if "_name" in value else key + "/")
        else:
            out.append(key)
    return "\n".join(out)


def _leaf(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


Page = tuple[int, str, bytes]  # status, content type, body
NOT_FOUND: Page = (404, TEXT, b"404 Not Found\n\nThe resource could not be found.\n\n   ")


_SERIALS = itertools.count(1)


class Documents:
    """Every path of one instance's trees, rendered on first use and kept."""

    def __init__(self, data: InstanceData, dhcp_domain: str, vendor: dict[str, Any],
                 vendor2: dict[str, Any]) -> None:
        self.data = data
        self.dhcp_domain = dhcp_domain
        self.vendor = vendor
        self.vendor2 = vendor2
        self.user_data = user_data(data)
        self.pages: dict[str, Page] = {}
        self.fingerprint: Any = None  # of the tables when the data was read
        self.wire: dict[str, Any] = {}  # path -> (status, ASGI headers, body), the service's
        self.serial = next(_SERIALS)  # (with len(wire): what a worker's copy is of)
        self._ec2: dict[str, dict[str, Any]] = {}
        self._os: dict[str, dict[str, dict[str, Any]]] = {}

    def page(self, path: str) -> Page:
        """``path`` without its trailing slash, e.g. /latest/meta-data/hostname."""
        hit = self.pages.get(path)
        if hit is None:
            hit = self.pages[path] = self._render(path)
        return hit

    def response(self, path: str) -> Any:
        """(status, ASGI headers, body, HTTP/1.1 head bytes) of ``path``, built once."""
        hit = self.wire.get(path)
        if hit is None:
            status, ctype, body = self.page(path)
            headers = [(b"content-type", ctype.encode()),
                       (b"content-length", str(len(body)).encode())]
            hit = self.wire[path] = (status, headers, body, http_head(status, headers))
        return hit

    def prerender(self) -> None:
        """Render what cloud-init reads (in the loading thread, not in the event loop)."""
        paths = ["/", "/latest", "/latest/meta-data", "/latest/user-data", "/openstack",
                 "/openstack/latest"]

        def walk(prefix: str, node: dict[str, Any]) -> None:
            for key, value in node.items():
                if key == "_name":
                    continue
                paths.append(f"{prefix}/{key}")
                if isinstance(value, dict):
                    walk(f"{prefix}/{key}", value)

        walk("/latest/meta-data", self.ec2("latest"))
        paths.extend(f"/openstack/latest/{name}" for name in self.openstack("latest"))
        paths.append("/openstack/latest/user_data")
        for path in paths:
            self.response(path)

    def ec2(self, version: str) -> dict[str, Any]:
        tree = self._ec2.get(version)
        if tree is None:
            tree = self._ec2[version] = ec2_tree(self.data, version, self.dhcp_domain)
        return tree

    def openstack(self, version: str) -> dict[str, dict[str, Any]]:
        docs = self._os.get(version)
        if docs is None:
            docs = self._os[version] = openstack_documents(
                self.data, version, self.dhcp_domain, self.vendor, self.vendor2)
        return docs

    def _render(self, path: str) -> Page:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return 200, TEXT, "\n".join([*EC2_VERSIONS, "latest"]).encode()
        if parts[0] == "openstack":
            return self._render_openstack(parts[1:])
        version = parts[0]
        if version not in EC2_VERSIONS and version != "latest":
            return NOT_FOUND
        if len(parts) == 1:
            listing = ["meta-data/"] + (["user-data"] if self.user_data is not None else [])
            return 200, TEXT, "\n".join(listing).encode()
        if parts[1] == "user-data" and len(parts) == 2:
            if self.user_data is None:
                return NOT_FOUND
            return 200, "application/octet-stream", self.user_data
        if parts[1] != "meta-data":
            return NOT_FOUND
        node: Any = self.ec2(version)
        for part in parts[2:]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, dict) and part.split("=")[0] in node and \
                    isinstance(node[part.split("=")[0]], dict):
                node = node[part.split("=")[0]]
            else:
                return NOT_FOUND
        if isinstance(node, dict):
            return 200, TEXT, _listing(node).encode()
        return 200, TEXT, _leaf(node).encode()

    def _render_openstack(self, parts: list[str]) -> Page:
        if not parts:
            return 200, TEXT, "\n".join([*OPENSTACK_VERSIONS, "latest"]).encode()
        version = parts[0]
        if version not in OPENSTACK_VERSIONS and version != "latest":
            return NOT_FOUND
        docs = self.openstack(version)
        if len(parts) == 1:
            names = ["meta_data.json"]
            if _at_least(version, "2013-04-04", OPENSTACK_VERSIONS):
                names.append("password")
            names.extend(n for n in ("vendor_data.json", "network_data.json",
                                     "vendor_data2.json") if n in docs)
            if self.user_data is not None:
                names.append("user_data")
            return 200, TEXT, "\n".join(names).encode()
        if len(parts) != 2:
            return NOT_FOUND
        name = parts[1]
        if name == "user_data":
            if self.user_data is None:
                return NOT_FOUND
            return 200, "application/octet-stream", self.user_data
        if name in docs:
            return 200, JSON, json.dumps(docs[name]).encode()
        return NOT_FOUND
