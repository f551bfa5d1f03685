"""Placement (the OpenStack Placement API, port 8778) and its in-process API.

HTTP: resource providers (nested, re-parenting at 1.37), inventories, usages,
resource classes, traits, aggregates, allocations (consumer generations and types),
allocation candidates (granular groups, forbidden/any-of traits, member_of, in_tree,
root_required, same_subtree, sharing providers), the reshaper; microversions 1.0-1.39.
Policies ``placement:*`` default to admin or the service role. Options:
``[placement] randomize_allocation_candidates`` and ``max_allocation_candidates``.

In-process API for the compute scheduler (no HTTP, no token), reached as
``cloud.service("placement").placement`` (a :class:`pocketstack.placement.manager.Placement`):

``ensure_compute_provider(name, inventory, uuid=None, traits=None) -> str``
    Create or update the provider named ``name`` (a compute host) so that its
    inventory is ``inventory`` ({"VCPU": {"total": 8, "allocation_ratio": 16.0},
    "MEMORY_MB": {"total": 16384}, ...} or plain totals {"VCPU": 8}); classes not
    listed are removed, fields not given keep their current values. Returns its uuid.
``claim(consumer, allocations, project_id, user_id, consumer_type="INSTANCE")``
    Atomically replace the consumer's allocations with ``allocations``
    ({rp_uuid: {"VCPU": 1, "MEMORY_MB": 512}}); raises
    :class:`pocketstack.api.errors.Conflict` if anything does not fit.
``release(consumer) -> bool``
    Remove every allocation of the consumer (False if it had none).
``candidate_hosts(resources, required=(), forbidden=(), member_of=None, limit=None)``
    Providers (root of each tree) able to take ``resources`` ({"VCPU": 1, ...}):
    a list of ``{"uuid", "name", "allocations"}`` in provider order; the
    ``allocations`` can be passed to :meth:`claim` as is. One bulk load, in memory.
"""
