"""Test-only extension of moto's ECS backend: service deployments that move like ECS's.

Stock moto reports fixed task counts (MOTO_ECS_SERVICE_RUNNING) and deployments that never
change. This module patches three backend methods so that, per service:

- a deployment starts IN_PROGRESS with 0 running tasks and, after a delay, reaches its desired
  count and COMPLETED; the deployments it replaced keep their tasks until then (they drain);
- UpdateService with a new task definition (or forceNewDeployment) starts a new PRIMARY
  deployment; a desiredCount change alone moves the running count after the delay;
- a task definition tagged ``moto-ecs/deployment=fail`` FAILS its deployment when the delay is
  up (circuit breaker), and ``fail-rollback`` also rolls back: a new PRIMARY deployment of the
  previous task definition, which then completes.

- DeleteService leaves a service DRAINING for ``moto-ecs/draining-seconds`` (a tag of its task
  definition; default 0: INACTIVE at once, as stock moto) before it is INACTIVE, as ECS does
  while it stops the service's tasks.

Time is read when a request arrives; nothing runs in the background. Settings:
``MOTO_ECS_DEPLOYMENT_SECONDS`` (default 2) for every deployment, or the task definition tag
``moto-ecs/deployment-seconds`` for its own deployments.

Loaded at server start by sitecustomize.py in this directory (e2e/env puts it on PYTHONPATH).
Nothing here is part of the operator.
"""

import os
import time

from moto.core.utils import utcnow
from moto.ecs import models
from moto.moto_api._internal import mock_random

FAIL_TAG = "moto-ecs/deployment"
SECONDS_TAG = "moto-ecs/deployment-seconds"
DRAINING_TAG = "moto-ecs/draining-seconds"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."


def _default_seconds():
    try:
        return max(float(os.environ.get("MOTO_ECS_DEPLOYMENT_SECONDS", "2")), 0.0)
    except ValueError:
        return 2.0


def _tags(backend, arn):
    if not arn:
        return {}
    try:
        td = backend.describe_task_definition(arn)
    except Exception:  # a service without a (known) task definition
        return {}
    return {t.get("key"): t.get("value") for t in (td.tags or [])}


def _event(service, message):
    service.events.insert(
        0,
        {
            "id": str(mock_random.uuid4()),
            "createdAt": utcnow(),
            "message": f"(service {service.name}) {message}",
        },
    )
    del service.events[100:]


def _new_deployment(backend, service, task_definition, reason=None, rollback=True):
    """A new PRIMARY deployment; the current ones become ACTIVE (they drain when it completes)."""
    for d in service.deployments:
        d["status"] = "ACTIVE"
    tags = _tags(backend, task_definition)
    try:
        seconds = float(tags.get(SECONDS_TAG, _default_seconds()))
    except ValueError:
        seconds = _default_seconds()
    fail = tags.get(FAIL_TAG, "") if rollback else ""
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    now = utcnow()
    deployment = {
        "createdAt": now,
        "desiredCount": service.desired_count,
        "failedTasks": 0,
        "id": deployment_id,
        "launchType": service.launch_type,
        "pendingCount": service.desired_count,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
        "runningCount": 0,
        "platformVersion": service.platform_version,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "updatedAt": now,
    }
    service.deployments.insert(0, deployment)
    service._moto_ext[deployment_id] = {
        "due": time.monotonic() + seconds,
        "seconds": seconds,
        "fail": fail in ("fail", "fail-rollback"),
        "rollback": fail == "fail-rollback",
        "from": 0,
    }
    _event(service, f"has started a deployment ({deployment_id}).")


def _advance(backend, service):
    """Brings one service's deployments up to the current time."""
    if service.status != "ACTIVE" or service.deployment_controller.get("type") != "ECS":
        return
    now = time.monotonic()
    primary = service.deployments[0] if service.deployments else None
    state = service._moto_ext.get(primary["id"]) if primary else None
    if primary and state and now >= state["due"] and primary["rolloutState"] == "IN_PROGRESS":
        if state["fail"]:
            primary.update(
                rolloutState="FAILED",
                rolloutStateReason=CIRCUIT_BREAKER,
                failedTasks=primary["desiredCount"],
                runningCount=0,
                pendingCount=0,
                updatedAt=utcnow(),
            )
            _event(service, f"(deployment {primary['id']}) deployment failed: tasks failed to start.")
            # ECS rolls back to the last deployment that completed.
            previous = next((d for d in service.deployments[1:] if d["rolloutState"] == "COMPLETED"), None)
            if state["rollback"] and previous:
                service.task_definition = previous["taskDefinition"]
                _new_deployment(
                    backend,
                    service,
                    previous["taskDefinition"],
                    reason=f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}.",
                    rollback=False,
                )
                _event(service, f"(deployment {primary['id']}) rolling back to deployment {previous['id']}.")
        else:
            primary.update(
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {primary['id']} completed.",
                updatedAt=utcnow(),
            )
            # The replaced deployments have drained.
            del service.deployments[1:]
            _event(service, "has reached a steady state.")
    primary = service.deployments[0] if service.deployments else None
    state = service._moto_ext.get(primary["id"]) if primary else None
    if primary and state and primary["rolloutState"] != "FAILED":
        primary["desiredCount"] = service.desired_count
        running = service.desired_count if now >= state["due"] else min(state["from"], service.desired_count)
        primary["runningCount"] = running
        primary["pendingCount"] = max(service.desired_count - running, 0)
    service.running_count = sum(d["runningCount"] for d in service.deployments)
    service.pending_count = sum(d["pendingCount"] for d in service.deployments)


def _advance_all(backend):
    for service in list(backend.services.values()):
        inactive_at = getattr(service, "_moto_inactive_at", None)
        if inactive_at is not None and time.monotonic() >= inactive_at:
            service.status = "INACTIVE"
            service._moto_inactive_at = None
        _advance(backend, service)


def install():
    backend_cls = models.EC2ContainerServiceBackend
    create_service = backend_cls.create_service
    update_service = backend_cls.update_service
    describe_services = backend_cls.describe_services
    list_services = backend_cls.list_services
    delete_service = backend_cls.delete_service

    def patched_create(self, *args, **kwargs):
        service = create_service(self, *args, **kwargs)
        service._moto_ext = {}
        if service.deployment_controller.get("type") == "ECS":
            service.deployments = []
            _new_deployment(self, service, service.task_definition)
            _advance(self, service)
        return service

    def patched_update(self, props):
        _advance_all(self)
        cluster = props.get("cluster", "default")
        name = str(props.get("service", "")).split("/")[-1]
        service = self._get_service(cluster, name)
        before_td = service.task_definition
        running_before = service.running_count
        forced = bool(props.get("force_new_deployment"))
        service = update_service(self, dict(props))
        if not hasattr(service, "_moto_ext") or service.deployment_controller.get("type") != "ECS":
            return service
        if service.task_definition and not service.task_definition.startswith("arn:"):
            service.task_definition = self.describe_task_definition(service.task_definition).arn
        if forced or service.task_definition != before_td:
            _new_deployment(self, service, service.task_definition)
        elif service.deployments and props.get("desired_count") is not None:
            # A scale of a finished deployment: the running count follows after the delay.
            primary = service.deployments[0]
            state = service._moto_ext.get(primary["id"])
            if state is not None and primary["rolloutState"] == "COMPLETED":
                state["from"] = running_before
                state["due"] = time.monotonic() + state["seconds"]
        _advance(self, service)
        return service

    def patched_describe(self, *args, **kwargs):
        _advance_all(self)
        return describe_services(self, *args, **kwargs)

    def patched_list(self, *args, **kwargs):
        _advance_all(self)
        return list_services(self, *args, **kwargs)

    def patched_delete(self, *args, **kwargs):
        service = delete_service(self, *args, **kwargs)
        try:
            seconds = float(_tags(self, service.task_definition).get(DRAINING_TAG, "0"))
        except ValueError:
            seconds = 0.0
        if seconds > 0:
            service.status = "DRAINING"
            service._moto_inactive_at = time.monotonic() + seconds
        return service

    backend_cls.create_service = patched_create
    backend_cls.delete_service = patched_delete
    backend_cls.update_service = patched_update
    backend_cls.describe_services = patched_describe
    backend_cls.list_services = patched_list
