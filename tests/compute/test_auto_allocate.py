"""``networks: auto`` for a project without networks: the Network service's auto-allocated
topology (``/v2.0/auto-allocated-topology/{project_id}``), as Nova asks Neutron for it."""

from __future__ import annotations

import openstack

from compute_helpers import IMAGE, ensure_image, name, wait


def _new_project(cloud):
    admin = cloud.conn()
    project = admin.identity.create_project(name=name("auto"), domain_id="default")
    user = admin.identity.create_user(name=name("auto"), password="secret-pass",
                                      domain_id="default", default_project_id=project.id)
    admin.identity.assign_project_role_to_user(project, user,
                                               admin.identity.find_role("member"))
    conn = openstack.connect(auth_url=cloud.url(5000, "/v3"), username=user.name,
                             password="secret-pass", project_id=project.id,
                             user_domain_id="default", region_name="RegionOne")
    return project, conn


def test_networks_auto_allocates_a_topology_once(fresh_cloud):
    # a cloud of its own: a shared network another test leaves would be chosen instead
    cloud = fresh_cloud
    cloud.start()
    ensure_image(cloud)
    exts = {e.alias for e in cloud.conn().network.extensions()}
    assert "auto-allocated-topology" in exts
    public = cloud.conn().network.find_network("public")
    assert public.is_default and public.is_router_external
    project, conn = _new_project(cloud)
    topo = f"/auto-allocated-topology/{project.id}"  # the adapter adds /v2.0
    r = conn.network.get(topo + "?fields=dry-run")
    assert r.status_code == 200 and r.json()["auto_allocated_topology"]["id"] == "dry-run=pass"
    assert list(conn.network.networks(project_id=project.id)) == []

    r = conn.compute.post("/servers", microversion="2.37", json={"server": {
        "name": name("auto"), "flavorRef": "1", "imageRef": IMAGE, "networks": "auto",
        "min_count": 2}})
    assert r.status_code == 202, r.text
    servers = [s for s in conn.compute.servers() if s.name.startswith("auto-")]
    assert len(servers) == 2
    for server in servers:
        shown = wait(cloud, server.id, "ACTIVE")
        assert list(shown["addresses"]) == ["auto_allocated_network"]
    nets = list(conn.network.networks(project_id=project.id))
    assert [n.name for n in nets] == ["auto_allocated_network"]
    subnet = conn.network.get_subnet(nets[0].subnet_ids[0])
    assert subnet.name == "auto_allocated_subnet_v4" and subnet.subnet_pool_id
    router = conn.network.find_router("auto_allocated_router")
    assert router.external_gateway_info["network_id"] == public.id
    shown = conn.network.get(topo).json()["auto_allocated_topology"]
    assert shown == {"id": nets[0].id, "tenant_id": project.id}

    # another project's topology: not for a member of this one
    other = cloud.conn("pocketstack").network.get(topo)
    assert other.status_code == 403
    for server in servers:
        conn.compute.delete_server(server.id)
        wait(cloud, server.id, "DELETED")
    assert conn.network.delete(topo).status_code == 204
    assert list(conn.network.networks(project_id=project.id)) == []
    assert conn.network.find_router("auto_allocated_router") is None
    r = conn.network.get(topo)
    assert r.status_code == 200  # made again on ask
    assert conn.network.delete(topo).status_code == 204
    assert conn.network.delete(topo).status_code == 404
    cloud.conn().identity.delete_project(project.id)
