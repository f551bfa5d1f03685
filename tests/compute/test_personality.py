"""Injected files (``personality``, create and rebuild up to 2.56): the items' shape, base64
contents and the injected-file quotas (403, as Nova), gone from 2.57 on."""

from __future__ import annotations

import base64

from compute_helpers import IMAGE, api, name, wait


def _files(count: int, text: str = "This is a test file.") -> list[dict[str, str]]:
    return [{"path": f"/test{i}.txt", "contents": base64.b64encode(text.encode()).decode()}
            for i in range(count)]


def _create(cloud, personality, version="2.56"):
    server = {"name": name("pers"), "flavorRef": "1", "imageRef": IMAGE,
              "networks": "none", "personality": personality}
    return api(cloud, "POST", "/servers", version=version, json={"server": server})


def test_personality_checked_on_create_and_rebuild(cloud):
    limits = api(cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert limits["maxPersonality"] == 5 and limits["maxPersonalitySize"] == 10240
    for files, code in (([{"path": "/etc/x", "contents": "This is a test file."}], 400),
                        ([{"path": "/etc/x"}], 400),
                        ([{"path": "/etc/x", "contents": "eA==", "mode": 1}], 400),
                        (_files(6), 403),  # over maxPersonality
                        (_files(1, "x" * 10241), 403),
                        ([{"path": "/" + "p" * 300, "contents": "eA=="}], 403)):
        r = _create(cloud, files)
        assert r.status_code == code, (files, r.text)
    assert _create(cloud, _files(1), version="2.57").status_code == 400

    # through the SDK's compute adapter at 2.56, with the most files allowed (the CLI's
    # --file cannot send them: it puts an open file in the JSON body)
    r = cloud.conn().compute.post("/servers", microversion="2.56", json={"server": {
        "name": name("pers"), "flavorRef": "1", "imageRef": IMAGE, "networks": "none",
        "personality": _files(5)}})
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    wait(cloud, server["id"], "ACTIVE")
    act = f"/servers/{server['id']}/action"
    r = api(cloud, "POST", act, version="2.56", json={"rebuild": {
        "imageRef": IMAGE, "personality": [{"path": "/r", "contents": "not base64!"}]}})
    assert r.status_code == 400, r.text
    r = api(cloud, "POST", act, version="2.57", json={"rebuild": {
        "imageRef": IMAGE, "personality": _files(1)}})
    assert r.status_code == 400, r.text
    r = api(cloud, "POST", act, version="2.56", json={"rebuild": {
        "imageRef": IMAGE, "personality": _files(1)}})
    assert r.status_code == 202, r.text
    wait(cloud, server['id'], "ACTIVE")
    api(cloud, "DELETE", f"/servers/{server['id']}")
