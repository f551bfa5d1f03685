"""Block Storage API v3 (Cinder) on port 8776, with a real ``file`` back end.

In-process API for compute (``cloud.service("volume")`` returns the
:class:`~pocketstack.volume.service.VolumeService`); every call takes the
caller's :class:`~pocketstack.api.context.RequestContext` (the instance owner's,
or ``RequestContext.admin()``) and raises the usual API errors:

``reserve(ctx, volume_id, instance_uuid) -> attachment_id``
    Check the volume can be attached (available, or in-use and multiattach) and
    create a reserved attachment (volume status ``reserved``). A volume still being
    built (``creating``/``downloading``) is waited for first, as Nova does.
``attach(ctx, attachment_id, connector, mountpoint=None) -> connection_info``
    Give the attachment its connector, mark it attached (volume ``in-use``) and
    return ``{"driver_volume_type": "file", "data": {"device_path": PATH,
    "format": "raw", "access_mode": "rw"|"ro", ...}}``: PATH is the volume's raw file.
``detach(ctx, attachment_id)``
    Delete the attachment; the volume becomes ``available`` when it was the last.
``connection_info(ctx, volume_id, connector=None) -> dict``
    The same connection information, without changing any state.
``get_volume(ctx, volume_id) -> dict``
    The volume as the API shows it (status, size, attachments, bootable...).
``volumes.create(ctx, {"size": 1, "imageRef": image_id, ...}) -> dict``
    Boot-from-volume: a bootable volume holding the image's data (through the image
    service's ``images.get`` / ``data_path``), answered ``creating`` and copied by
    the worker (``worker.py``: long work is asynchronous); ``actions.reimage(ctx, volume_id,
    image_id, reimage_reserved)`` rewrites one (rebuild).

Layout: ``models.py`` (tables), ``drivers/`` (the back-end interface and the ``file``
driver, ``drivers/pool.py``: the XFS reflink pool,
``drivers/backends.py``: several back ends, ``enabled_backends``, and the scheduler), ``volumes.py`` / ``actions.py`` /
``snapshots.py`` / ``backups.py`` (backups, transfers) / ``types.py`` (types, QoS,
default types) / ``encryption.py`` / ``quotas.py`` / ``images.py`` / ``upload.py`` / ``groups.py`` (generic groups) /
``manage.py`` (manage/unmanage) (domain logic), ``worker.py`` (the
job pool, user messages, restart settling), ``api/`` (thin HTTP resources; every
route is served both as ``/v3/{project_id}/...`` and project-less ``/v3/...``).
"""
