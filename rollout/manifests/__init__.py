"""Install manifests: what `rollout install` prints and `deploy/` holds.

`rbac.py` is the permission table (each grant named after the code that needs it),
`objects.py` builds the objects, `files.py` writes and checks the committed renderings.
"""

from rollout.manifests.objects import InstallOptions, install_documents, render

__all__ = ["InstallOptions", "install_documents", "render"]
