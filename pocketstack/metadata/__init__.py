"""Metadata service (Nova's metadata API, port 8775) and config drive.

Layout: ``service.py`` (the lean ASGI app and the document cache), ``callers.py``
(who is calling: Neutron's proxy headers, the signed instance id), ``source.py``
(instances from compute's tables, ports from the network's), ``documents.py`` (the
EC2 and OpenStack trees), ``vendordata.py``, ``passwords.py`` (POST-once password),
``configdrive.py`` (the ISO 9660 ``config-2`` image), ``fastserver.py`` (the port's
own HTTP/1.1 server: cache hits are written as pre-built bytes, the rest goes through
the service's ASGI app).

``metadata_workers`` is accepted as in Nova but the one event loop serves every
request: a cache hit never leaves it, so more processes would only split the cache.
"""
