"""Options of the doctor's thresholds (section ``[doctor]``)."""

from pocketstack.config import Opt, register

register(
    Opt("doctor", "stuck_task_seconds", int, 3600,
        "A server in a task state (or a volume in a transitional status) longer than this "
        "is reported as stuck."),
    Opt("doctor", "deleted_rows_max", int, 10000,
        "Soft-deleted rows above which the doctor advises archiving them."),
    Opt("doctor", "console_log_max_bytes", int, 10 * 1024 * 1024,
        "Size above which a server's console log is reported."),
    Opt("doctor", "metadata_slow_seconds", float, 1.0,
        "Metadata service answer time above which it is reported as slow."),
)
