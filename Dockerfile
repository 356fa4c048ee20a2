# The controller image.
#   docker build -t rollout-controller:0.1.0 .
#   docker run --rm --read-only -v ~/.kube/config:/kube/config:ro \
#     rollout-controller:0.1.0 controller --kubeconfig /kube/config
# In a cluster, `rollout install --image rollout-controller:0.1.0` runs it with in-cluster
# credentials, a read-only root filesystem, and /tmp as an emptyDir.
#
# Two stages: the first builds our wheel and installs it with its dependencies into a
# virtualenv; the second copies only that virtualenv onto the same slim base (same Python
# path, so the venv's interpreter link stays valid). No compiler, no pip, no source tree,
# no build cache reaches the final image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rollout/ rollout/
COPY strategies/ strategies/
COPY meshes/ meshes/
COPY dashboards/ dashboards/
# The wheel, not the source tree, so the image gets exactly what a user's pip install gets
# (package data included). Byte-code is compiled here because the root filesystem is
# read-only at run time.
RUN python -m venv /opt/rollout \
 && /opt/rollout/bin/pip install --no-compile "pip>=24" \
 && /opt/rollout/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/rollout/bin/pip install --no-compile /wheels/*.whl \
 && /opt/rollout/bin/python -m compileall -q /opt/rollout/lib \
 && /opt/rollout/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/rollout/bin/rollout --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="rollout-controller" \
      org.opencontainers.image.description="Progressive delivery for Kubernetes: canary and blue-green with SLO gates" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/rollout /opt/rollout
# No writes at run time: no .pyc files, nothing under $HOME (it is /tmp, an emptyDir).
ENV PATH=/opt/rollout/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8090
ENTRYPOINT ["rollout"]
CMD ["controller"]
