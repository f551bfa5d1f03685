"""Security groups with nftables, per network namespace, applied atomically.

The bridge sees which port a frame enters and leaves by; conntrack lives in the IP
layer. So (with ``bridge-nf-call-iptables`` set inside the network's namespace only):

- ``table bridge ps_ports`` (forward, priority -200) marks each frame: the low 16
  bits name the destination port, the high 16 bits the source port; it also drops
  frames whose source MAC is not the port's (anti-spoofing);
- ``table inet ps_sg`` (forward) accepts established/related traffic, then sends a
  new flow through the sender's egress chain (``out_N``: its source address must be
  one of the port's, then its egress rules; ``return`` when allowed) and the
  receiver's ingress chain (``in_N``: its ingress rules, with remote groups as named
  sets); both end in drop. Ports with port security disabled are not filtered.

Traffic to the namespace itself (DHCP, the metadata proxy) is not forwarded and so is
never filtered, as with Neutron's DHCP port. The whole ruleset of a namespace is
rebuilt from the database and replaced in one ``nft -f`` transaction whenever it
differs from the last one applied (checked every second), so rule changes reach
running instances within a second.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import subprocess
from typing import Any

LOG = logging.getLogger(__name__)
_PROTO_NAMES = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "ipv6-icmp": "ipv6-icmp",
                "icmpv6": "ipv6-icmp", "sctp": "sctp", "6": "tcp", "17": "udp", "1": "icmp",
                "58": "ipv6-icmp", "132": "sctp"}


def _set_name(group_id: str, family: str) -> str:
    return f"g{family}_" + re.sub(r"[^a-zA-Z0-9]", "", group_id)[:24]


def _rule(rule: dict[str, Any], direction: str, verdict: str) -> str | None:
    """One security group rule as an nft rule (None when it cannot apply)."""
    v6 = rule.get("ethertype") == "IPv6"
    fam = "ip6" if v6 else "ip"
    parts = ["meta nfproto " + ("ipv6" if v6 else "ipv4")]
    addr = "saddr" if direction == "ingress" else "daddr"
    if rule.get("remote_ip_prefix"):
        net = ipaddress.ip_network(rule["remote_ip_prefix"], strict=False)
        if (net.version == 6) != v6:
            return None
        if net.prefixlen:
            parts.append(f"{fam} {addr} {net}")
    elif rule.get("remote_group_id"):
        parts.append(f"{fam} {addr} @{_set_name(rule['remote_group_id'], fam)}")
    proto = rule.get("protocol")
    if proto not in (None, "", "any"):
        name = _PROTO_NAMES.get(str(proto).lower())
        if name is None:
            if not str(proto).isdigit():
                return None
            parts.append(f"meta l4proto {int(proto)}")
        else:
            if name == "icmp" and v6:
                name = "ipv6-icmp"
            parts.append(f"meta l4proto {name}")
            low, high = rule.get("port_range_min"), rule.get("port_range_max")
            if name in ("tcp", "udp", "sctp") and low is not None:
                parts.append(f"th dport {low}" + (f"-{high}" if high not in (None, low) else ""))
            elif name in ("icmp", "ipv6-icmp") and low is not None:
                kind = "icmp" if name == "icmp" else "icmpv6"
                parts.append(f"{kind} type {low}")
                if high is not None:
                    parts.append(f"{kind} code {high}")
    return " ".join(parts) + f" {verdict}"


def build(ports: list[dict[str, Any]], rules_by_group: dict[str, list[dict[str, Any]]],
          members: dict[str, dict[str, list[str]]], tap_name: Any) -> str:
    """The nft script for one network namespace.

    ``ports``: the compute ports on the network; ``rules_by_group``: security group id
    -> its rules; ``members``: group id -> {"ip": [...], "ip6": [...]} addresses of the
    ports in that group (for remote groups).
    """
    out = ["table bridge ps_ports", "delete table bridge ps_ports",
           "table inet ps_sg", "delete table inet ps_sg"]
    secured = sorted((p for p in ports if p.get("port_security_enabled", True)),
                     key=lambda p: p["id"])
    marks, chains = [], []
    fwd = ["    ct state established,related accept", "    ct state invalid drop"]
    sets = []
    used_sets: set[str] = set()
    for idx, port in enumerate(secured, start=1):
        tap = tap_name(port["id"])
        macs = {port["mac_address"].lower()} | {
            (pair.get("mac_address") or port["mac_address"]).lower()
            for pair in port.get("allowed_address_pairs") or []}
        marks.append(f'    iifname "{tap}" ether saddr != {{ {", ".join(sorted(macs))} }} drop')
        marks.append(f'    oifname "{tap}" meta mark set meta mark | {idx:#x}')
        marks.append(f'    iifname "{tap}" meta mark set meta mark | {idx << 16:#x}')
        v4 = [f["ip_address"] for f in port.get("fixed_ips", [])
              if ipaddress.ip_address(f["ip_address"]).version == 4]
        v6 = [f["ip_address"] for f in port.get("fixed_ips", [])
              if ipaddress.ip_address(f["ip_address"]).version == 6]
        for pair in port.get("allowed_address_pairs") or []:
            net = ipaddress.ip_network(pair["ip_address"], strict=False)
            (v4 if net.version == 4 else v6).append(str(net))
        egress = [f"  chain out_{idx} {{"]
        egress.append("    meta nfproto ipv4 ip saddr != { " + ", ".join(v4 or ["0.0.0.0/32"])
                      + " } drop")
        egress.append("    meta nfproto ipv6 ip6 saddr != { fe80::/10, "
                      + ", ".join(v6 or ["::/128"]) + " } drop")
        ingress = [f"  chain in_{idx} {{"]
        for group in port.get("security_groups") or []:
            for rule in rules_by_group.get(group, []):
                direction = rule.get("direction")
                text = _rule(rule, direction, "return" if direction == "egress" else "accept")
                if text is None:
                    continue
                (egress if direction == "egress" else ingress).append("    " + text)
                for name in re.findall(r"@(\S+)", text):
                    used_sets.add(name)
        egress += ["    drop", "  }"]
        ingress += ["    drop", "  }"]
        chains += egress + ingress
        fwd.append(f"    meta mark & 0xffff0000 == {idx << 16:#x} jump out_{idx}")
        fwd.append(f"    meta mark & 0xffff == {idx:#x} jump in_{idx}")
    for group, addrs in sorted(members.items()):
        for fam, kind in (("ip", "ipv4_addr"), ("ip6", "ipv6_addr")):
            name = _set_name(group, fam)
            if name not in used_sets:
                continue
            elements = addrs.get(fam) or []
            sets += [f"  set {name} {{", f"    type {kind}", "    flags interval"]
            if elements:
                sets.append("    elements = { " + ", ".join(sorted(set(elements))) + " }")
            sets.append("  }")
    for name in sorted(used_sets - {_set_name(g, f) for g in members for f in ("ip", "ip6")}):
        kind = "ipv6_addr" if name.startswith("gip6_") else "ipv4_addr"
        sets += [f"  set {name} {{", f"    type {kind}", "  }"]
    out += ["table bridge ps_ports {", "  chain ps_mark {",
            "    type filter hook forward priority -200; policy accept;", *marks, "  }", "}"]
    out += ["table inet ps_sg {", *sets, "  chain ps_forward {",
            "    type filter hook forward priority 0; policy accept;", *fwd, "  }",
            *chains, "}"]
    return "\n".join(out) + "\n"


def apply(netns: str, script: str, sysctl: bool = True) -> None:
    """Run an nft script in the namespace (this module's: replace the ports' ruleset;
    the routers' NAT too); ``sysctl``: also turn on the bridge's netfilter calls, once per
    namespace."""
    if sysctl:
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w",
                        "net.bridge.bridge-nf-call-iptables=1",
                        "net.bridge.bridge-nf-call-ip6tables=1"],
                       capture_output=True, check=False, timeout=10)
    proc = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script,
                          capture_output=True, text=True, check=False, timeout=15)
    if proc.returncode != 0:
        raise RuntimeError(f"nft in {netns}: {proc.stderr.strip()[:2000]}")


def flush(netns: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"],
                   input="table bridge ps_ports\ndelete table bridge ps_ports\n"
                         "table inet ps_sg\ndelete table inet ps_sg\n",
                   capture_output=True, text=True, check=False, timeout=15)
