"""The ``/sandbox/`` admin HTTP API: steer a sandbox running in another process.

Owns mapping admin requests onto the in-process :class:`FaultInjector`,
:class:`RequestLog` and watch hub. Admin requests are never logged and
never fault-injected, so steering a sandbox does not perturb what is measured.

    POST   /sandbox/faults        body: FaultInjector.add kwargs    -> 201 {"faults": [...]}
    GET    /sandbox/faults                                          -> 200 {"faults": [...]}
    DELETE /sandbox/faults                                          -> 200
    GET    /sandbox/requests                                        -> 200 [RequestRecord, ...]
    DELETE /sandbox/requests                                        -> 200
    POST   /sandbox/drop-watches  body (optional): {"abrupt": bool} -> 200 {"dropped": n}
    POST   /sandbox/tokens        body: {"namespace": ns, "serviceAccount": name}
                                                                    -> 201 {"token": "..."}
"""

from __future__ import annotations

import inspect
from typing import Any

from .authz import Authorizer
from .faults import FaultInjector, RequestLog
from .watch import WatchHub

_FAULT_KEYS = set(inspect.signature(FaultInjector.add).parameters) - {"self"}


def handle_admin(
    method: str,
    path: str,
    body: Any,
    *,
    faults: FaultInjector,
    log: RequestLog,
    hub: WatchHub,
    authz: Authorizer,
) -> tuple[int, Any]:
    """Returns (HTTP code, JSON body)."""
    route = path.rstrip("/")
    method = method.upper()
    if route == "/sandbox/faults":
        if method == "POST":
            if not isinstance(body, dict) or set(body) - _FAULT_KEYS:
                return 400, {
                    "error": f"body must be an object with keys from {sorted(_FAULT_KEYS)}"
                }
            try:
                faults.add(**body)
            except (TypeError, ValueError) as exc:
                return 400, {"error": str(exc)}
            return 201, {"faults": faults.active()}
        if method == "GET":
            return 200, {"faults": faults.active()}
        if method == "DELETE":
            faults.clear()
            return 200, {"faults": []}
    elif route == "/sandbox/requests":
        if method == "GET":
            return 200, [entry.to_json() for entry in log.entries()]
        if method == "DELETE":
            log.clear()
            return 200, []
    elif route == "/sandbox/drop-watches":
        if method == "POST":
            abrupt = bool(body.get("abrupt")) if isinstance(body, dict) else False
            return 200, {"dropped": hub.drop_all(abrupt=abrupt)}
    elif route == "/sandbox/tokens":
        if method == "POST":
            if not isinstance(body, dict) or not all(
                isinstance(body.get(k), str) and body[k] for k in ("namespace", "serviceAccount")
            ):
                return 400, {"error": 'body must be {"namespace": ..., "serviceAccount": ...}'}
            return 201, {"token": authz.issue_token(body["namespace"], body["serviceAccount"])}
    else:
        return 404, {"error": f"no admin endpoint {path}"}
    return 405, {"error": f"{method} not allowed on {path}"}
