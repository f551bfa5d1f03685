"""The interface between compute and a virtualisation driver (Nova's ComputeDriver, small)."""

from __future__ import annotations

import abc
from typing import Any


class BuildFailed(Exception):
    """The driver could not spawn the instance on this host (it may be rescheduled)."""


class ComputeDriver(abc.ABC):
    def implements(self, method: str) -> bool:
        """Whether this driver does ``method`` itself (the base class's default refuses).
        A method, not class introspection: a compute API worker asks the main process's
        driver (compute.remote)."""
        return getattr(type(self), method, None) is not getattr(ComputeDriver, method, None)

    def capability(self, name: str) -> Any:
        """One of the driver's ``capabilities`` (Nova's names, e.g. supports_bfv_rescue)."""
        return getattr(self, "capabilities", {}).get(name)

    @abc.abstractmethod
    def hosts(self) -> list[str]:
        """Names of the compute hosts this driver manages."""

    @abc.abstractmethod
    def get_available_resource(self, host: str) -> dict[str, Any]:
        """vcpus, memory_mb, local_gb, hypervisor_type, hypervisor_version, cpu_info."""

    @abc.abstractmethod
    def spawn(self, host: str, instance: dict[str, Any]) -> None:
        """Boot the instance on host; raise BuildFailed when it cannot."""

    @abc.abstractmethod
    def destroy(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def power_off(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def power_on(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def reboot(self, host: str, instance: dict[str, Any], reboot_type: str) -> None: ...

    @abc.abstractmethod
    def pause(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def unpause(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def suspend(self, host: str, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def resume(self, host: str, instance: dict[str, Any]) -> None: ...

    def get_power_state(self, host: str, instance: dict[str, Any]) -> int | None:
        """The power state the hypervisor reports, when the driver knows it."""
        return None

    def init_host(self, cloud: Any) -> None:
        """Called once from the compute service's start() with the cloud (Nova's init_host):
        drivers that need other services (image data, ports) or must reconcile what
        already runs do it here."""

    def get_console_output(self, host: str, instance: dict[str, Any],
                           length: int | None = None) -> str:
        """The instance's console log (the last ``length`` lines), for os-getConsoleOutput."""
        raise NotImplementedError("this driver has no console output")


    # Operations added for rescue, snapshots, volumes and migration. Each default says the
    # driver cannot do it; the compute manager turns NotImplementedError into a clean fault.
    def rescue(self, host: str, instance: dict[str, Any],
               rescue_image: dict[str, Any] | None) -> None:
        """Boot the instance from ``rescue_image`` (an image record; None = its own image)
        with its original disk available to it (Nova's rescue)."""
        raise NotImplementedError("this driver cannot rescue instances")

    def unrescue(self, host: str, instance: dict[str, Any]) -> None:
        """Return a rescued instance to its own disk, running."""
        raise NotImplementedError("this driver cannot rescue instances")

    def snapshot(self, host: str, instance: dict[str, Any], write: Any) -> bool:
        """Write the instance's current disk contents through ``write(bytes)`` for
        createImage; return False when the driver has no disk of its own (the manager then
        copies the base image, as the fake driver does)."""
        return False

    def attach_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], mountpoint: str) -> None:
        """Make a volume (connection_info from Block Storage) visible in the instance."""

    def detach_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], mountpoint: str) -> None:
        """Remove a volume from the instance."""

    def extend_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], requested_size: int) -> None:
        """An attached volume grew (Block Storage's ``volume-extended`` event): show the
        instance its new size (``requested_size`` in bytes)."""

    def migrate(self, source: str, dest: str, instance: dict[str, Any], live: bool) -> None:
        """Move the instance from host ``source`` to host ``dest`` (cold or live)."""
        raise NotImplementedError("this driver cannot migrate instances")

    # Smaller operations of the server actions (defaults: the driver cannot).
    def get_remote_console(self, host: str, instance: dict[str, Any],
                           console_type: str) -> dict[str, Any]:
        """Where the hypervisor serves the console ``console_type`` (vnc, spice, serial):
        {"host", "port", "internal_access_path"} (Nova's ConsoleVNC & co)."""
        raise NotImplementedError(f"this driver has no {console_type} console")

    def set_admin_password(self, host: str, instance: dict[str, Any], new_pass: str) -> None:
        """Set the guest's administrator password (changePassword)."""
        raise NotImplementedError("this driver cannot set passwords")

    def trigger_crash_dump(self, host: str, instance: dict[str, Any]) -> None:
        """Inject an NMI into the guest (trigger_crash_dump)."""
        raise NotImplementedError("this driver cannot trigger crash dumps")

    def get_instance_diagnostics(self, host: str, instance: dict[str, Any]) -> dict[str, Any]:
        """Nova's standard diagnostics (2.48 format) of the instance."""
        raise NotImplementedError("this driver has no diagnostics")


def load_driver(name: str, conf: Any) -> ComputeDriver:
    if name == "fake":
        from pocketstack.compute.drivers.fake import FakeDriver

        return FakeDriver(conf)
    if name == "container":
        from pocketstack.compute.drivers.container.driver import ContainerDriver

        return ContainerDriver(conf)
    raise ValueError(f"compute driver {name!r} is not available (fake and container are "
                     "implemented)")
