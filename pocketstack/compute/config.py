"""Compute options, with Nova's names."""

from pocketstack.config import Opt, register

register(
    Opt("fake", "hosts", int, 2, "Number of fake compute hosts (each a nova-compute service)."),
    Opt("fake", "vcpus", int, 8, "vCPUs of each fake host."),
    Opt("fake", "memory_mb", int, 16384, "RAM (MB) of each fake host."),
    Opt("fake", "local_gb", int, 200, "Disk (GB) of each fake host."),
    Opt("fake", "pci_devices", list, [],
        "PCI devices of the fake hosts: [HOST=]VENDOR_ID:PRODUCT_ID[:COUNT] entries (no "
        "HOST=: every fake host), e.g. '10de:1db4:2, fake-host-2=8086:1520'."),
    Opt("pci", "alias", str, "",
        "PCI aliases a flavor's pci_passthrough:alias names: one JSON object per line (or "
        "a JSON list), e.g. {\"name\": \"gpu\", \"vendor_id\": \"10de\", "
        "\"product_id\": \"1db4\"}."),
    Opt("pci", "device_spec", str, "",
        "PCI devices that may be passed through (JSON objects as [pci] alias, matching "
        "vendor_id/product_id, '*' for any); empty: every device of a fake host."),
    Opt("fake", "cpu_features", list, [],
        "CPU features of the fake hosts (libvirt's names: avx2, sse4.2, aes...): their "
        "cpu_info and HW_CPU_X86_* traits."),
    Opt("fake", "delay", float, 0.05, "Seconds a fake driver operation takes."),
    Opt("fake", "numa_nodes", int, 2, "NUMA cells of each fake host (vCPUs and RAM split "
        "evenly between them; 0: no NUMA topology, guests asking for one do not fit)."),
    Opt("fake", "hugepages_2m", int, 1024, "2 MiB huge pages in each NUMA cell of a fake "
        "host (taken from the cell's RAM)."),
    Opt("DEFAULT", "osapi_compute_workers", int, 0,
        "Worker processes serving the compute API port, beside the main process that "
        "keeps the task pool, scheduler, driver and the other services (0: the main "
        "process serves the port itself). Each worker is a separate interpreter: more "
        "requests at once on a machine with several cores."),
    Opt("DEFAULT", "osapi_compute_worker_threads", int, 0,
        "Threads running the request handlers in each compute API worker process. 0 (the "
        "default): none, each worker runs one request at a time in its event loop's own "
        "thread, as gunicorn's sync workers (the processes serve side by side; a busy "
        "worker accepts nothing, so requests go to an idle one, and no hand-over between "
        "threads contends for the interpreter lock while the database's write lock is "
        "held). N: a pool of N threads per worker (wsgi_default_pool_size is the main "
        "process's)."),
    Opt("DEFAULT", "executor_thread_pool_size", int, 8,
        "Threads running the compute tasks cast to the main process (builds, deletes, "
        "actions), as oslo.messaging's RPC executor. Few: they share one interpreter lock "
        "and queue on the database's write lock."),
    Opt("DEFAULT", "instance_usage_audit", bool, False,
        "Run the instance usage audit on each compute host once per audit period (task "
        "logs for /os-instance_usage_audit_log, compute.instance.exists notifications)."),
    Opt("DEFAULT", "instance_usage_audit_period", str, "month",
        "Audit period: hour, day, month or year, with an optional offset (month@15, "
        "day@18, hour@30, year@3)."),
    Opt("DEFAULT", "cpu_allocation_ratio", float, 16.0, "Virtual CPU to physical CPU ratio."),
    Opt("DEFAULT", "ram_allocation_ratio", float, 1.5, "Virtual RAM to physical RAM ratio."),
    Opt("DEFAULT", "disk_allocation_ratio", float, 1.0, "Virtual disk to physical disk ratio."),
    Opt("DEFAULT", "default_availability_zone", str, "nova", "Availability zone of compute hosts."),
    Opt("DEFAULT", "internal_service_availability_zone", str, "internal",
        "Availability zone of the non-compute services."),
    Opt("DEFAULT", "service_down_time", int, 60,
        "Seconds without a heartbeat after which a service is down."),
    Opt("DEFAULT", "report_interval", int, 10, "Seconds between service heartbeats."),
    Opt("DEFAULT", "allow_resize_to_same_host", bool, False,
        "Allow the scheduler to pick the server's current host for a resize."),
    Opt("compute", "migration_transport", str, "local",
        "How compute hosts copy disks for cold migration and resize: 'local' (in-process, "
        "the fake and container drivers) or 'ssh' (between hosts, as Nova's libvirt "
        "remote_filesystem_transport; `pocketstack doctor` then checks the SSH trust)."),
    Opt("compute", "migration_ssh_dir", str, "",
        "Directory of the migration user's SSH key, authorized_keys and known_hosts "
        "(empty: ~/.ssh)."),
    Opt("DEFAULT", "shelved_offload_time", int, 0,
        "Seconds a shelved server stays on its host before it is offloaded (0: at once, "
        "-1: never)."),
    Opt("DEFAULT", "shelved_poll_interval", int, 3600,
        "Seconds between checks for shelved servers to offload."),
    Opt("DEFAULT", "reclaim_instance_interval", int, 0,
        "Seconds a deleted server stays SOFT_DELETED (restorable) before it is reclaimed "
        "(0: delete at once)."),
    Opt("DEFAULT", "enable_instance_password", bool, True,
        "Return the admin password in rescue (and create/rebuild) responses."),
    Opt("vnc", "enabled", bool, True, "Offer VNC consoles."),
    Opt("vnc", "novncproxy_base_url", str, "",
        "Public URL of the noVNC proxy (pocketstack serves it on port 6080; default "
        "http://<public host>:6080/vnc_auto.html)."),
    Opt("spice", "enabled", bool, False, "Offer SPICE consoles (no SPICE proxy is served)."),
    Opt("spice", "html5proxy_base_url", str, "",
        "Public URL of the SPICE HTML5 proxy (default http://<public host>:6082/"
        "spice_auto.html; pocketstack serves none)."),
    Opt("serial_console", "enabled", bool, True, "Offer serial consoles."),
    Opt("serial_console", "base_url", str, "",
        "Public URL of the serial console proxy (pocketstack serves it on port 6083; "
        "default ws://<public host>:6083/)."),
    Opt("consoleauth", "token_ttl", int, 600, "Seconds a console token stays valid."),
    Opt("scheduler", "max_attempts", int, 3, "Hosts tried for one build (1 + reschedules)."),
    Opt("filter_scheduler", "enabled_filters", list,
        ["ComputeFilter", "AvailabilityZoneFilter", "RamFilter", "DiskFilter", "CoreFilter",
         "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
         "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter", "SameHostFilter",
         "DifferentHostFilter"], "Filters applied in order by the scheduler (also "
        "available: AggregateInstanceExtraSpecsFilter, PciPassthroughFilter)."),
    Opt("filter_scheduler", "host_subset_size", int, 1,
        "The new server goes to a host chosen at random among the N best that pass."),
    Opt("filter_scheduler", "shuffle_best_same_weighed_hosts", bool, False,
        "Shuffle the passing hosts of the best weight before host_subset_size picks "
        "(spreads servers over identical hosts instead of the same first one)."),
    Opt("filter_scheduler", "image_properties_default_architecture", str, "",
        "Architecture assumed by ImagePropertiesFilter for images without hw_architecture."),
    Opt("filter_scheduler", "weight_classes", list, ["nova.scheduler.weights.all_weighers"],
        "Weighers used by the scheduler (class names, or all_weighers)."),
    Opt("filter_scheduler", "ram_weight_multiplier", float, 1.0,
        "RAM weigher multiplier (positive: spread, negative: stack)."),
    Opt("filter_scheduler", "cpu_weight_multiplier", float, 1.0,
        "CPU weigher multiplier (positive: spread, negative: stack)."),
    Opt("filter_scheduler", "disk_weight_multiplier", float, 1.0,
        "Disk weigher multiplier (positive: spread, negative: stack)."),
    Opt("filter_scheduler", "io_ops_weight_multiplier", float, -1.0,
        "IoOps weigher multiplier (negative: prefer hosts with fewer builds/moves running)."),
    Opt("filter_scheduler", "build_failure_weight_multiplier", float, 1000000.0,
        "How strongly hosts with recent build failures are avoided (0: not at all)."),
    Opt("filter_scheduler", "soft_affinity_weight_multiplier", float, 1.0,
        "Weight of the members already on a host, for soft-affinity groups (>= 0)."),
    Opt("filter_scheduler", "soft_anti_affinity_weight_multiplier", float, 1.0,
        "Weight against the members already on a host, for soft-anti-affinity groups."),
    Opt("quota", "instances", int, 10, "Servers per project."),
    Opt("quota", "cores", int, 20, "Instance cores per project."),
    Opt("quota", "ram", int, 51200, "Megabytes of instance RAM per project."),
    Opt("quota", "metadata_items", int, 128, "Metadata items per server."),
    Opt("quota", "injected_files", int, 5, "Injected files per server."),
    Opt("quota", "injected_file_content_bytes", int, 10240, "Bytes per injected file."),
    Opt("quota", "injected_file_path_length", int, 255, "Length of an injected file path."),
    Opt("quota", "key_pairs", int, 100, "Key pairs per user."),
    Opt("quota", "server_groups", int, 10, "Server groups per project."),
    Opt("quota", "server_group_members", int, 10, "Servers per server group."),
    Opt("compute", "image_type_exclude_list", list, [],
        "Image disk formats this compute host does not advertise as supported "
        "(COMPUTE_IMAGE_TYPE_* traits), though its driver could boot them."),
    Opt("DEFAULT", "update_resources_interval", int, 0,
        "Seconds between two reports of the hosts' traits to Placement (0: every 60 s, "
        "Nova's periodic default; negative: only at start and on a service enable or "
        "disable)."),
    Opt("scheduler", "query_placement_for_image_type_support", bool, False,
        "Only choose hosts whose provider has the COMPUTE_IMAGE_TYPE_* trait of the "
        "image's disk_format (not for boot from volume)."),
)
