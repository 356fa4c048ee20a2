"""Bearer-token authentication and RBAC authorization, as the API server does them.

Owns :class:`Authorizer`: which user a request's ``Authorization`` header names,
and whether the RBAC objects in the store (ClusterRoles, ClusterRoleBindings,
Roles, RoleBindings of ``rbac.authorization.k8s.io/v1``) let that user do a verb
on a resource. It exists so the install manifests' least-privilege RBAC can be
tested for real: the controller runs under a ServiceAccount token and anything its
Role does not grant is answered 403, as in a cluster.

Requests without an ``Authorization`` header act as the cluster admin, so the
demo, the tests and kubectl keep working unchanged (a real server would send them
to anonymous). A bearer token the sandbox did not issue is 401.

Evaluation follows Kubernetes' RBAC authorizer (plugin/pkg/auth/authorizer/rbac):
rules only add, a ClusterRoleBinding grants its role's rules everywhere, a
RoleBinding grants its Role's (or a ClusterRole's) rules in its own namespace
only; a rule matches when its apiGroups, resources (``plural``, ``plural/sub``,
``*``, ``*/sub``) and verbs match, and ``resourceNames``, when set, matches only
requests that name an object. Discovery and ``/version`` are open to every
authenticated user (the default ``system:discovery`` binding).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .resources import Registry
from .store import Store

JSON = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
ADMIN = "system:admin"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None


ADMIN_USER = User(ADMIN, ("system:masters", "system:authenticated"))


class Authorizer:
    def __init__(self, store: Store, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._lock = threading.Lock()
        self._tokens: dict[str, User] = {}

    # ---- authentication ------------------------------------------------
    def issue_token(self, namespace: str, service_account: str) -> str:
        """A token that authenticates as the ServiceAccount ``namespace/service_account``.

        The ServiceAccount object need not exist (as with a projected token whose
        account was deleted, the binding subjects are what count).
        """
        token = f"sandbox-{secrets.token_urlsafe(24)}"
        user = User(
            f"system:serviceaccount:{namespace}:{service_account}",
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
        )
        with self._lock:
            self._tokens[token] = user
        return token

    def authenticate(self, header: str | None) -> User | None:
        """The user of a request; None when it carries a token we never issued."""
        if not header:
            return ADMIN_USER
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            return self._tokens.get(token.strip())

    # ---- authorization -------------------------------------------------
    def allowed(self, user: User, request: Request) -> bool:
        if "system:masters" in user.groups:
            return True
        for rules, namespace in self._grants(user):
            if namespace is not None and namespace != request.namespace:
                continue
            if any(_rule_matches(rule, request) for rule in rules):
                return True
        return False

    def _grants(self, user: User) -> list[tuple[list[JSON], str | None]]:
        """(rules, namespace they apply in; None = everywhere) for every binding of `user`."""
        grants: list[tuple[list[JSON], str | None]] = []
        for binding in self._objects("clusterrolebindings"):
            if _binds(binding, user):
                grants.append((self._role_rules(binding.get("roleRef") or {}, None), None))
        for binding in self._objects("rolebindings"):
            if _binds(binding, user):
                namespace = binding["metadata"].get("namespace")
                rules = self._role_rules(binding.get("roleRef") or {}, namespace)
                grants.append((rules, namespace))
        return grants

    def _role_rules(self, ref: JSON, namespace: str | None) -> list[JSON]:
        kind, name = ref.get("kind"), ref.get("name") or ""
        if kind == "ClusterRole":
            role = self._find("clusterroles", None, name)
        elif kind == "Role" and namespace is not None:
            role = self._find("roles", namespace, name)
        else:
            role = None
        return list((role or {}).get("rules") or [])

    def _objects(self, plural: str) -> list[JSON]:
        rt = self._registry.lookup(RBAC_GROUP, "v1", plural)
        assert rt is not None
        return [obj for _, obj in self._store.objects_of(rt.storage_key)]

    def _find(self, plural: str, namespace: str | None, name: str) -> JSON | None:
        rt = self._registry.lookup(RBAC_GROUP, "v1", plural)
        assert rt is not None
        return self._store.find(rt, namespace, name)


def _binds(binding: JSON, user: User) -> bool:
    return any(_subject_is(subject, binding, user) for subject in binding.get("subjects") or [])


def _subject_is(subject: JSON, binding: JSON, user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding["metadata"].get("namespace")
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    if kind == "User":
        return name == user.name
    return kind == "Group" and name in user.groups


def _rule_matches(rule: JSON, request: Request) -> bool:
    groups = rule.get("apiGroups") or []
    if "*" not in groups and request.group not in groups:
        return False
    verbs = rule.get("verbs") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    wanted = request.resource + (f"/{request.subresource}" if request.subresource else "")
    resources = rule.get("resources") or []
    any_of_sub = f"*/{request.subresource}" if request.subresource else None
    if not any(r in ("*", wanted, any_of_sub) for r in resources):
        return False
    names = rule.get("resourceNames") or []
    # A rule limited to names can never allow list, watch, create or deletecollection,
    # which name no object (Kubernetes' RBAC says the same).
    return not names or (request.name is not None and request.name in names)


def forbidden_message(user: User, request: Request) -> str:
    """The API server's wording, which clients and people grep for."""
    qualified = request.resource + (f"/{request.subresource}" if request.subresource else "")
    what = f"{qualified}.{request.group}" if request.group else qualified
    named = f' "{request.name}"' if request.name else ""
    scope = (
        f' in the namespace "{request.namespace}"' if request.namespace else " at the cluster scope"
    )
    return (
        f'{what}{named} is forbidden: User "{user.name}" cannot {request.verb} resource '
        f'"{qualified}" in API group "{request.group}"{scope}'
    )
