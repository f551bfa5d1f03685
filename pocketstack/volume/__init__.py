"""Block Storage API v3 (Cinder) on port 8776, with a real ``file`` back end.

In-process API for compute (``cloud.service("volume")`` returns the
:class:`~pocketstack.volume.service.VolumeService`); every call takes the
caller's :class:`~pocketstack.api.context.RequestContext` (the instance owner's,
or ``RequestContext.admin()``) and raises the usual API errors:

``reserve(ctx, volume_id, instance_uuid) -> attachment_id``
    Check the volume can be attached (available, or in-use and multiattach) and
    create a reserved attachment (volume status ``reserved``).
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
"""
