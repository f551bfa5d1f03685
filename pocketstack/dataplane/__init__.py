"""The Linux dataplane: what makes Neutron's model real for the container driver.

Everything lives in network namespaces pocketstack creates and owns; the host's own
interfaces, routes and firewall are never touched.

- per network: a namespace ``psnet-<network id>`` holding a bridge ``br0``, the
  network's DHCP port addresses (a real ``network:dhcp`` port allocated in the
  Network service) and 169.254.169.254;
- per network with DHCP subnets: one ``dnsmasq`` in that namespace serving static
  reservations from the ports (``--dhcp-hostsfile``, reloaded with SIGHUP);
- per network: a metadata proxy (:mod:`pocketstack.dataplane.metaproxy`) listening
  on 169.254.169.254:80 inside the namespace and forwarding, from the host side, to
  the metadata service (port 8775) with ``X-Forwarded-For`` and
  ``X-Neutron-Network-ID``;
- per port: a veth pair, ``tap<port id>`` on the bridge and ``ethN`` with the port's
  MAC in the instance's namespace.

:class:`pocketstack.dataplane.manager.Dataplane` is the entry point.
"""
