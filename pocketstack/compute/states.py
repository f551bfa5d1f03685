"""Nova's vm_state / task_state / power_state and the API status derived from them."""

from __future__ import annotations

# vm states
ACTIVE, BUILDING, PAUSED, SUSPENDED, STOPPED = "active", "building", "paused", "suspended", \
    "stopped"
ERROR, DELETED, SOFT_DELETED = "error", "deleted", "soft-deleted"
RESIZED = "resized"
SHELVED, SHELVED_OFFLOADED, RESCUED = "shelved", "shelved_offloaded", "rescued"

# task states
SCHEDULING, NETWORKING, BLOCK_DEVICE_MAPPING, SPAWNING = "scheduling", "networking", \
    "block_device_mapping", "spawning"
POWERING_OFF, POWERING_ON, REBOOTING, REBOOTING_HARD = "powering-off", "powering-on", \
    "rebooting", "rebooting_hard"
PAUSING, UNPAUSING, SUSPENDING, RESUMING, DELETING = "pausing", "unpausing", "suspending", \
    "resuming", "deleting"
RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH, RESIZE_REVERTING = "resize_prep", \
    "resize_migrating", "resize_finish", "resize_reverting"
RESIZE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH)
SHELVING, SHELVING_IMAGE_PENDING_UPLOAD, SHELVING_IMAGE_UPLOADING = "shelving", \
    "shelving_image_pending_upload", "shelving_image_uploading"
SHELVING_OFFLOADING, UNSHELVING = "shelving_offloading", "unshelving"
RESCUING, UNRESCUING = "rescuing", "unrescuing"
SOFT_DELETING, RESTORING = "soft-deleting", "restoring"
UPDATING_PASSWORD = "updating_password"

# power states
NOSTATE, RUNNING, PAUSED_POWER, SHUTDOWN, CRASHED, SUSPENDED_POWER = 0, 1, 3, 4, 6, 7

ALLOW_SOFT_REBOOT = [ACTIVE]
ALLOW_HARD_REBOOT = [ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR]

_STATUS = {
    ACTIVE: {None: "ACTIVE", REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT",
             "rebuilding": "REBUILD", "migrating": "MIGRATING",
             UPDATING_PASSWORD: "PASSWORD"},
    BUILDING: {None: "BUILD"},
    STOPPED: {None: "SHUTOFF", REBOOTING_HARD: "HARD_REBOOT", "rebuilding": "REBUILD"},
    PAUSED: {None: "PAUSED", REBOOTING_HARD: "HARD_REBOOT", "migrating": "MIGRATING"},
    SUSPENDED: {None: "SUSPENDED", REBOOTING_HARD: "HARD_REBOOT"},
    ERROR: {None: "ERROR", REBOOTING_HARD: "HARD_REBOOT", "rebuilding": "REBUILD"},
    DELETED: {None: "DELETED"},
    SOFT_DELETED: {None: "SOFT_DELETED"},
    RESIZED: {None: "VERIFY_RESIZE"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
    RESCUED: {None: "RESCUE"},
}


def status(vm_state: str, task_state: str | None) -> str:
    if task_state in RESIZE_TASKS and vm_state in (ACTIVE, STOPPED):
        return "RESIZE"
    if task_state == RESIZE_REVERTING:
        return "REVERT_RESIZE"
    by_task = _STATUS.get(vm_state, {None: "UNKNOWN"})
    return by_task.get(task_state, by_task[None])


# API status filter -> vm_states (and task states that show as that status)
STATUS_TO_VM = {
    "ACTIVE": [ACTIVE], "BUILD": [BUILDING], "SHUTOFF": [STOPPED], "PAUSED": [PAUSED],
    "SUSPENDED": [SUSPENDED], "ERROR": [ERROR], "DELETED": [DELETED],
    "SOFT_DELETED": [SOFT_DELETED], "REBOOT": [ACTIVE], "HARD_REBOOT": ALLOW_HARD_REBOOT,
    "UNKNOWN": [], "SHELVED": [SHELVED], "SHELVED_OFFLOADED": [SHELVED_OFFLOADED],
    "RESCUE": [RESCUED],
    "RESIZE": [ACTIVE, STOPPED], "VERIFY_RESIZE": [RESIZED], "MIGRATING": [ACTIVE, PAUSED], "REBUILD": [],
    "PASSWORD": [ACTIVE],
}
