"""Image service: Glance's Image API v2 on port 9292.

Layout: ``models.py`` (tables), ``store.py`` (the one ``file`` store under
DATA_DIR/images), ``images.py`` (visibility, create, list), ``changes.py``
(JSON patch, tags, (de)activation, delete), ``data.py`` (uploads, downloads,
import), ``members.py`` (sharing), ``api/`` (thin HTTP resources).

In-process API for other services (no HTTP between services)::

    image = cloud.service("image")
    info = image.images.get(ctx, image_id)   # Glance's JSON view of the image as a dict;
                                             # NotFound when ctx may not see it
    path = image.data_path(image_id)         # path of the stored file, or None
    with image.open_data(image_id) as f:     # binary file object (NotFound without data)
        header = f.read(512)
    image.write_data(ctx, image_id, produce)  # upload into a queued image: produce(write)
                                              # calls write(bytes); -> active, or queued

``data_path``/``open_data`` do no access checks: call ``images.get`` with the
caller's context first. Stored files never change once written (uploads are
renamed into place), so reading them while other requests run is safe.
"""
