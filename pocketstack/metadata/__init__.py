"""Metadata service (Nova's metadata API, port 8775) and config drive.

Layout: ``service.py`` (the lean ASGI app and the document cache), ``callers.py``
(who is calling: Neutron's proxy headers, the signed instance id), ``source.py``
(instances from compute's tables, ports from the network's), ``documents.py`` (the
EC2 and OpenStack trees), ``vendordata.py``, ``passwords.py`` (POST-once password),
``configdrive.py`` (the ISO 9660 ``config-2`` image, built when compute asks),
``fastserver.py`` (the port's own HTTP/1.1 server: cache hits are written as pre-built
bytes, the rest goes through the service's ASGI app).

``workers.py`` and ``worker.py``: ``[DEFAULT] metadata_workers`` = N >= 1 runs N
processes on the port (``SO_REUSEPORT``), each with its own cache filled from the main
process over a private Unix socket; 0 (the default) serves it in the main event loop.
"""
