"""Metadata options, with Nova's (and Neutron's) names and defaults."""

import os

from pocketstack.config import Opt, register

register(
    Opt("api", "metadata_cache_expiration", int, 15,
        "Seconds a rendered instance's metadata stays cached (0: no caching)."),
    Opt("api", "dhcp_domain", str, "novalocal",
        "Domain appended to instance hostnames in the metadata (empty: none)."),
    Opt("api", "vendordata_providers", list, ["StaticJSON"],
        "Vendordata providers: StaticJSON (vendor_data.json) and DynamicJSON "
        "(vendor_data2.json)."),
    Opt("api", "vendordata_jsonfile_path", str, "",
        "JSON file served as vendor_data.json (empty: {})."),
    Opt("api", "vendordata_dynamic_targets", list, [],
        "name@http://url REST services whose answers form vendor_data2.json."),
    Opt("api", "vendordata_dynamic_connect_timeout", float, 5.0,
        "Seconds to wait for a connection to a dynamic vendordata target."),
    Opt("api", "vendordata_dynamic_read_timeout", float, 5.0,
        "Seconds to wait for the answer of a dynamic vendordata target."),
    Opt("api", "vendordata_dynamic_failure_fatal", bool, False,
        "A failing dynamic vendordata target fails the request (500) instead of being "
        "left out."),
    Opt("DEFAULT", "metadata_workers", int, os.cpu_count() or 1,
        "Processes serving the metadata port, each with its own cache (filled from the main "
        "process); 0: served in the main event loop. Default: the number of CPUs, as Nova."),
    Opt("DEFAULT", "force_config_drive", bool, False,
        "Build a config drive for every new server."),
    Opt("DEFAULT", "config_drive_format", str, "iso9660", "Config drive format (iso9660)."),
    Opt("neutron", "metadata_proxy_shared_secret", str, "",
        "Secret of the X-Instance-ID-Signature HMAC (empty: one is generated in the data "
        "directory, file metadata-proxy-secret).", secret=True),
)
