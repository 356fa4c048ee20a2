"""Reading one key of a Secret, the same way everywhere (analysis args and providers,
webhooks, notifications). The value is returned to the caller only: never logged."""

from __future__ import annotations

import base64

from rollout.errors import ConfigError, KubeError, NotFoundError, TransientKubeError
from rollout.kube import Kube
from rollout.kube.kinds import SECRETS


def secret_value(kube: Kube, namespace: str, name: str, key: str) -> str:
    """Raises ConfigError naming the Secret and key (never the value) when it cannot be read."""
    try:
        raw = kube.get(SECRETS, name, namespace=namespace)
    except NotFoundError:
        raise ConfigError(f"Secret {namespace}/{name} not found") from None
    except TransientKubeError:
        raise  # says nothing of the Secret: the caller retries (a reconcile, a measurement)
    except KubeError as err:
        raise ConfigError(f"Secret {namespace}/{name} could not be read: {err}") from None
    data = raw.get("data") or {}
    if key in data:
        return base64.b64decode(data[key]).decode()
    string_data = raw.get("stringData") or {}
    if key in string_data:
        return str(string_data[key])
    raise ConfigError(f"Secret {namespace}/{name} has no key {key}")
