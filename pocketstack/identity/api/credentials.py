"""/v3/users/{id}/application_credentials and /v3/credentials."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.identity import schemas
from pocketstack.identity.api.common import filters, link, many, one
from pocketstack.identity.manager import Identity


class ApplicationCredentials:
    def __init__(self, identity: Identity) -> None:
        self.app_creds = identity.app_creds
        self.roles = identity.roles

    @staticmethod
    def _target(user_id: str) -> dict[str, Any]:
        return {"target": {"user": {"id": user_id}}, "user_id": user_id}

    def _render(self, req: Request, user_id: str, ac: dict[str, Any]) -> dict[str, Any]:
        return {**ac, "links": link(req, f"users/{user_id}/application_credentials/{ac['id']}")}

    @route("POST", "/v3/users/{user_id}/application_credentials", status=201)
    def create(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:create_application_credential", self._target(user_id))
        body = validate(schemas.app_cred_create, req.json())["application_credential"]
        token_roles = self.roles.effective_role_ids(user_id, project_id=req.ctx.project_id) \
            if req.ctx.project_id else []
        if req.ctx.application_credential_id:
            raise errors.Forbidden("An application credential cannot create another one.")
        ac = self.app_creds.create(user_id, req.ctx.project_id, token_roles, body)
        return {"application_credential": self._render(req, user_id, ac)}

    @route("GET", "/v3/users/{user_id}/application_credentials")
    def list(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:list_application_credentials", self._target(user_id))
        items = self.app_creds.list(user_id, req.query.get("name"))
        return {"application_credentials": [self._render(req, user_id, ac) for ac in items],
                "links": {"self": req.url, "previous": None, "next": None}}

    @route("GET", "/v3/users/{user_id}/application_credentials/{app_cred_id}")
    def get(self, req: Request, user_id: str, app_cred_id: str) -> dict[str, Any]:
        req.enforce("identity:get_application_credential", self._target(user_id))
        return {"application_credential": self._render(req, user_id,
                                                        self.app_creds.get(user_id,
                                                                           app_cred_id))}

    @route("DELETE", "/v3/users/{user_id}/application_credentials/{app_cred_id}", status=204)
    def delete(self, req: Request, user_id: str, app_cred_id: str) -> None:
        req.enforce("identity:delete_application_credential", self._target(user_id))
        self.app_creds.delete(user_id, app_cred_id)


class Credentials:
    def __init__(self, identity: Identity) -> None:
        self.credentials = identity.credentials

    @staticmethod
    def _target(cred: dict[str, Any]) -> dict[str, Any]:
        return {"target": {"credential": cred}}

    @route("POST", "/v3/credentials", status=201)
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.credential_create, req.json())["credential"]
        req.enforce("identity:create_credential", self._target(body))
        return one(req, "credential", "credentials", self.credentials.create(body))

    @route("GET", "/v3/credentials")
    def list(self, req: Request) -> dict[str, Any]:
        f = filters(req, ("user_id", "type", "project_id"))
        items = self.credentials.list(f)
        visible = [c for c in items if req.authorized("identity:list_credentials",
                                                      self._target(c))]
        return many(req, "credentials", "credentials", visible)

    @route("GET", "/v3/credentials/{credential_id}")
    def get(self, req: Request, credential_id: str) -> dict[str, Any]:
        cred = self.credentials.get(credential_id)
        req.enforce("identity:get_credential", self._target(cred))
        return one(req, "credential", "credentials", cred)

    @route("PATCH", "/v3/credentials/{credential_id}")
    def update(self, req: Request, credential_id: str) -> dict[str, Any]:
        body = validate(schemas.credential_update, req.json())["credential"]
        cred = self.credentials.get(credential_id)
        req.enforce("identity:update_credential", self._target(cred))
        return one(req, "credential", "credentials", self.credentials.update(credential_id, body))

    @route("DELETE", "/v3/credentials/{credential_id}", status=204)
    def delete(self, req: Request, credential_id: str) -> None:
        cred = self.credentials.get(credential_id)
        req.enforce("identity:delete_credential", self._target(cred))
        self.credentials.delete(credential_id)


class Ec2Credentials:
    """Keystone's OS-EC2 extension: access/secret pairs for the S3 and EC2 APIs."""

    def __init__(self, identity: Identity) -> None:
        self.credentials = identity.credentials
        self.resources = identity.resources

    @staticmethod
    def _target(user_id: str) -> dict[str, Any]:
        return {"target": {"credential": {"user_id": user_id}}, "user_id": user_id}

    def _render(self, req: Request, ec2: dict[str, Any]) -> dict[str, Any]:
        return {**ec2, "links": link(req, f"users/{ec2['user_id']}/credentials/OS-EC2/"
                                          f"{ec2['access']}")}

    @route("POST", "/v3/users/{user_id}/credentials/OS-EC2", status=201)
    def create(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:ec2_create_credential", self._target(user_id))
        body = validate(schemas.ec2_create, req.json())
        self.resources.get_project(body["tenant_id"])
        return {"credential": self._render(req, self.credentials.create_ec2(
            user_id, body["tenant_id"]))}

    @route("GET", "/v3/users/{user_id}/credentials/OS-EC2")
    def list(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:ec2_list_credentials", self._target(user_id))
        return {"credentials": [self._render(req, c)
                                for c in self.credentials.list_ec2(user_id)],
                "links": {"self": req.url, "previous": None, "next": None}}

    @route("GET", "/v3/users/{user_id}/credentials/OS-EC2/{access}")
    def get(self, req: Request, user_id: str, access: str) -> dict[str, Any]:
        req.enforce("identity:ec2_get_credential", self._target(user_id))
        return {"credential": self._render(req, self.credentials.get_ec2(user_id, access))}

    @route("DELETE", "/v3/users/{user_id}/credentials/OS-EC2/{access}", status=204)
    def delete(self, req: Request, user_id: str, access: str) -> None:
        req.enforce("identity:ec2_delete_credential", self._target(user_id))
        self.credentials.delete_ec2(user_id, access)
