"""IP address management: allocation pools, free-address search, prefixes from pools.

Allocation is always called inside one ``Database.write()`` transaction (the
write lock serialises writers on SQLite); the primary key of
``network_ipallocation`` (subnet, address) is the backstop that makes a shared
address impossible on any backend.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from itertools import islice
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.network.common import bad_request, conflict, invalid_input
from pocketstack.network.models import IPAllocation, Subnet

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(value: Any, field: str = "cidr", strict: bool = True) -> IPNetwork:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise invalid_input(f"'{value}' is not a valid IP subnet") from None
    if strict and ipaddress.ip_interface(str(value)).ip != net.network_address:
        raise invalid_input(f"'{value}' isn't a recommended CIDR, '{net}' should be "
                            "specified instead")
    return net


def parse_ip(value: Any, field: str = "ip_address") -> ipaddress.IPv4Address | \
        ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise invalid_input(f"'{value}' is not a valid IP address") from None


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """Every usable address of the subnet except the gateway, as Neutron computes it."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    if net.version == 4 and net.prefixlen >= 31:
        first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 6 and net.prefixlen == 128:
        first = last = int(net.network_address)
    ranges = [(first, last)]
    if gateway:
        g = int(ipaddress.ip_address(gateway))
        out = []
        for a, b in ranges:
            if a <= g <= b:
                if a <= g - 1:
                    out.append((a, g - 1))
                if g + 1 <= b:
                    out.append((g + 1, b))
            else:
                out.append((a, b))
        ranges = out
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return [{"start": str(cls(a)), "end": str(cls(b))} for a, b in ranges]


def check_pools(net: IPNetwork, pools: Any, gateway: str | None) -> list[dict[str, str]]:
    if not isinstance(pools, list):
        raise invalid_input("allocation_pools must be a list")
    parsed = []
    for pool in pools:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise invalid_input(f"Unrecognized attribute(s) in allocation pool {pool}")
        start, end = parse_ip(pool["start"]), parse_ip(pool["end"])
        if start.version != net.version or end.version != net.version or start > end:
            raise bad_request(f"The allocation pool {pool['start']}-{pool['end']} spans "
                              "beyond the subnet cidr or is invalid.", "InvalidAllocationPool")
        if start not in net or end not in net:
            raise bad_request(f"The allocation pool {pool['start']}-{pool['end']} spans "
                              f"beyond the subnet cidr {net}.", "OutOfBoundsAllocationPool")
        parsed.append((int(start), int(end)))
    parsed.sort()
    for (a1, b1), (a2, b2) in zip(parsed, parsed[1:]):
        if a2 <= b1:
            raise bad_request("Found overlapping allocation pools.",
                              "OverlappingAllocationPools")
    if gateway:
        g = int(ipaddress.ip_address(gateway))
        if any(a <= g <= b for a, b in parsed):
            raise conflict(f"Gateway ip {gateway} conflicts with allocation pool",
                           "GatewayConflictWithAllocationPools")
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return [{"start": str(cls(a)), "end": str(cls(b))} for a, b in parsed]


def pool_size(pools: list[dict[str, str]]) -> int:
    return sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
               for p in pools)


def in_pools(ip: Any, pools: list[dict[str, str]]) -> bool:
    v = int(ipaddress.ip_address(str(ip)))
    return any(int(ipaddress.ip_address(p["start"])) <= v <= int(ipaddress.ip_address(p["end"]))
               for p in pools)


# Where the next search for a free address of a subnet starts (subnet id -> integer address).
# Only a hint: ``network_ipallocation`` is the truth, so a lost hint (restart) or a stale one
# (a rolled-back transaction) costs one longer search, never a wrong answer.
_cursors: dict[str, int] = {}
_WINDOW = 64  # addresses checked per query


def _walk(ranges: list[tuple[int, int]], start: int) -> Iterator[int]:
    """Every pool address from ``start`` on, in pool order, then the ones before it."""
    for a, b in ranges:
        if b >= start:
            yield from range(max(a, start), b + 1)
    for a, b in ranges:
        if a >= start:
            break
        yield from range(a, min(b, start - 1) + 1)


def _first_free(s: Session, subnet: Subnet, pools: list[dict[str, str]]) -> str | None:
    """Next-fit search: the first free pool address at or after the subnet's cursor.

    Each step asks the database about a window of candidates through the primary key, so
    an allocation costs O(1) queries while addresses are handed out in order, whatever the
    number already used; freed addresses are found again when the cursor wraps around.
    """
    ranges = sorted((int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
                    for p in pools)
    if not ranges:
        return None
    cls = ipaddress.IPv4Address if subnet.ip_version == 4 else ipaddress.IPv6Address
    candidates = _walk(ranges, _cursors.get(subnet.id, ranges[0][0]))
    windows = 0
    while True:
        chunk = list(islice(candidates, _WINDOW))
        if not chunk:
            return None
        texts = [str(cls(v)) for v in chunk]
        taken = set(s.scalars(select(IPAllocation.ip_address).where(
            IPAllocation.subnet_id == subnet.id, IPAllocation.ip_address.in_(texts))))
        for value, text in zip(chunk, texts):
            if text not in taken:
                _cursors[subnet.id] = value + 1
                return text
        windows += 1
        if windows == 4:  # a crowded stretch: stop early if the subnet is simply full
            size = sum(b - a + 1 for a, b in ranges)
            count = s.scalar(select(func.count()).select_from(IPAllocation).where(
                IPAllocation.subnet_id == subnet.id)) or 0
            if count >= size and not _has_outside(s, subnet.id, ranges, cls):
                return None


def _has_outside(s: Session, subnet_id: str, ranges: list[tuple[int, int]],
                 cls: type) -> bool:
    """Whether some allocation lies outside the pools (then a full count proves nothing)."""
    for text in s.scalars(select(IPAllocation.ip_address).where(
            IPAllocation.subnet_id == subnet_id)):
        v = int(cls(text))
        if not any(a <= v <= b for a, b in ranges):
            return True
    return False


def eui64(net: IPNetwork, mac: str) -> str:
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    value = int(net.network_address) | int.from_bytes(bytes(iid), "big")
    return str(ipaddress.IPv6Address(value))


def allocate(s: Session, subnet: Subnet, port_id: str, mac: str, ip: str | None = None,
             position: int = 0) -> str:
    """Take ``ip`` (or the first free address) of ``subnet`` for ``port_id``."""
    attrs = subnet.attrs
    net = ipaddress.ip_network(subnet.cidr)
    if ip is None and subnet.ip_version == 6 and attrs.get("ipv6_address_mode") in (
            "slaac", "dhcpv6-stateless"):
        ip = eui64(net, mac)
    if ip is not None:
        addr = parse_ip(ip)
        if addr not in net or (net.version == 4 and net.prefixlen < 31 and addr in (
                net.network_address, net.broadcast_address)):
            raise bad_request(f"IP address {ip} is not a valid IP for the specified subnet.",
                              "InvalidIpForSubnet")
        ip = str(addr)
        if s.get(IPAllocation, (subnet.id, ip)) is not None:
            raise conflict(f"Unable to complete operation for network {subnet.network_id}. "
                           f"The IP address {ip} is in use.", "IpAddressInUse")
    else:
        ip = _first_free(s, subnet, attrs.get("allocation_pools") or [])
        if ip is None:
            raise conflict(f"No more IP addresses available on network {subnet.network_id}.",
                           "IpAddressGenerationFailure")
    s.add(IPAllocation(subnet_id=subnet.id, ip_address=ip, port_id=port_id,
                       network_id=subnet.network_id, position=position))
    s.flush()
    return ip


def prefix_from_pool(pool_prefixes: list[str], taken: list[str], prefixlen: int
                     ) -> str:
    """The first prefix of length ``prefixlen`` inside the pool that overlaps nothing taken."""
    used_nets = [ipaddress.ip_network(t) for t in taken]
    for prefix in pool_prefixes:
        p = ipaddress.ip_network(prefix)
        if prefixlen < p.prefixlen:
            continue
        for cand in p.subnets(new_prefix=prefixlen):
            if not any(cand.overlaps(u) for u in used_nets):
                return str(cand)
            # skip quickly past a larger used block
    raise conflict(f"Unable to allocate subnet with prefix length {prefixlen}, maximum "
                   "allowed prefixes exhausted or no free prefix.", "SubnetAllocationError")
