"""Tempest conformance runner: start a cloud, configure Tempest for it, run a test list.

``pocketstack conformance`` (see :mod:`pocketstack.conformance.runner`) starts a fresh
cloud as a subprocess, installs Tempest into a virtualenv of its own if needed, writes a
``tempest.conf`` from the live catalog and runs the interop tests of the services the
cloud has, then prints and writes a report.
"""
