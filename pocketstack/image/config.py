"""The image service's options (Glance's names, in pocketstack's ``[image]`` section)."""

from pocketstack.config import Opt, register

register(
    Opt("DEFAULT", "hashing_algorithm", str, "sha512",
        "Algorithm of the images' os_hash_value (any hashlib name; Glance's default sha512). "
        "The md5 'checksum' is computed as well, as Glance's API requires."),
    Opt("image", "image_size_cap", int, 1099511627776,
        "Maximum size of an uploaded image in bytes (Glance's default: 1 TiB)."),
    Opt("image", "limit_param_default", int, 25,
        "Default number of images returned by a list request without a limit."),
    Opt("image", "api_limit_max", int, 1000,
        "Maximum number of images a list request returns."),
    Opt("image", "enabled_import_methods", list, ["glance-direct", "web-download", "copy-image"],
        "Import methods announced by /v2/info/import."),
    Opt("image", "filesystem_store_datadir", str, "",
        "Directory of the file store (defaults to DATA_DIR/images)."),
    Opt("image", "show_image_direct_url", bool, False,
        "Show the image's store location as direct_url (reveals the store's layout)."),
    Opt("image", "show_multiple_locations", bool, False,
        "Show the image's locations (url and store metadata of every store holding it)."),
    Opt("image", "filesystem_store_metadata_file", str, "",
        "JSON file of the file store's location metadata: {\"id\": ..., \"mountpoint\": "
        "...} or a list of them."),
    Opt("image", "enabled_backends", list, [],
        "Multi-store: ID:file pairs (e.g. fast:file, cheap:file); empty: one store 'file'."),
    Opt("image", "default_backend", str, "",
        "The store uploads go to when several are enabled (default: the first)."),
    Opt("image", "image_member_quota", int, 128,
        "Maximum number of members of one image (negative: unlimited)."),
    Opt("image", "image_tag_quota", int, 128,
        "Maximum number of tags of one image (negative: unlimited)."),
    Opt("image", "image_property_quota", int, 128,
        "Maximum number of custom properties of one image (negative: unlimited)."),
)
