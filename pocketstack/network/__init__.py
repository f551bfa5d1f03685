"""Networking (Neutron API v2.0): the logical model only, no dataplane.

Layout: ``models.py`` (tables), ``common.py`` (what every resource shares: errors,
list queries, revisions, tags, attribute types), one manager per concept
(``networks.py`` with RBAC, ``subnets.py`` with subnet pools, ``ipam.py``,
``ports.py``, ``routers.py``, ``floatingips.py``, ``secgroups.py``,
``quotas.py``), ``manager.py`` (assembles them and documents the in-process API
compute uses), ``bootstrap.py`` (DevStack's default topology), ``api/`` (HTTP).
"""
