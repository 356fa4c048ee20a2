"""In-process Kubernetes API sandbox: the cluster the demo and the tests run against.

An HTTP server on 127.0.0.1 speaking enough of the Kubernetes REST API that
the unmodified official Python client and kubectl work against it, plus
simulated Deployment and Job controllers, fault injection and a request log.

    sandbox = start_sandbox()
    api = sandbox.api_client()
    ...
    api.close(); sandbox.stop()
"""

from .faults import FaultInjector, RequestLog, RequestRecord
from .sandbox import Sandbox, start_sandbox

__all__ = ["FaultInjector", "RequestLog", "RequestRecord", "Sandbox", "start_sandbox"]
