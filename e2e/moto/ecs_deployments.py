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

- service deployments (ListServiceDeployments, DescribeServiceDeployments): each deployment
  the model starts is one, IN_PROGRESS until it completes (SUCCESSFUL), is replaced by another
  (STOPPED) or is rolled back (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL once the
  rollback deployment completes); the service's ``currentServiceDeployment`` names the newest
  (as ECS's does; stock moto leaves it out);
- lifecycle hooks: a deployment whose service's deploymentConfiguration has PAUSE hooks waits at
  each of their stages in stage order (IN_PROGRESS, that lifecycleStage, the hook
  AWAITING_ACTION) from the start, with 0 new tasks, until ContinueServiceDeployment: CONTINUE
  goes on to the next PAUSE stage, after the last one the deployment completes after the usual
  delay; ROLLBACK rolls back like ``fail-rollback``. StopServiceDeployment ROLLBACK rolls back
  a deployment in flight. Real ECS passes through its other stages and runs AWS_LAMBDA hooks and
  hook timeouts; none of that is modelled (lambda hooks are ignored, timeouts never fire).

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
import uuid

from moto.core.utils import utcnow
from moto.ecs import models, responses
from moto.ecs.exceptions import InvalidParameterException, ServiceNotFoundException
from moto.moto_api._internal import mock_random

FAIL_TAG = "moto-ecs/deployment"
SECONDS_TAG = "moto-ecs/deployment-seconds"
DRAINING_TAG = "moto-ecs/draining-seconds"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
# ECS's lifecycle stages that take hooks, in the order a deployment passes them.
HOOK_STAGES = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
]


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


def _pauses(service):
    """The PAUSE hooks' stages of the service's deployment configuration, in stage order."""
    config = getattr(service, "deployment_configuration", None) or {}
    stages = {
        stage
        for hook in config.get("lifecycleHooks") or []
        if hook.get("targetType") == "PAUSE"
        for stage in hook.get("lifecycleStages") or []
        if stage in HOOK_STAGES
    }
    return [{"stage": s, "hookId": str(uuid.uuid4())} for s in sorted(stages, key=HOOK_STAGES.index)]


def _service_deployment(backend, service, deployment):
    """The service deployment of a deployment the model started (not of a rollback's)."""
    number = deployment["id"].split("/")[-1]
    config = getattr(service, "deployment_configuration", None) or {}
    for sd in getattr(service, "_moto_sd", []):
        if sd["status"] == "IN_PROGRESS":
            sd.update(status="STOPPED", statusReason="replaced by a newer deployment", finishedAt=utcnow())
    arn = (
        f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:"
        f"service-deployment/{service.cluster_name}/{service.name}/{number}"
    )
    # DescribeServices / CreateService / UpdateService name it (currentServiceDeployment).
    service.current_service_deployment = arn
    service.__dict__.setdefault("_moto_sd", []).append(
        {
            "serviceDeploymentArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": deployment["createdAt"],
            "startedAt": deployment["createdAt"],
            "status": "IN_PROGRESS",
            "strategy": config.get("strategy") or "ROLLING",
            "deployment": deployment,
        }
    )


def _new_deployment(backend, service, task_definition, reason=None, rollback=True):
    """A new PRIMARY deployment; the current ones become ACTIVE (they drain when it completes).
    `rollback` False: the deployment is a rollback (it neither fails nor pauses)."""
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
        "pauses": _pauses(service) if rollback else [],
    }
    if rollback:
        _service_deployment(backend, service, deployment)
    _event(service, f"has started a deployment ({deployment_id}).")


def _sd_of(service, deployment_id):
    return next((sd for sd in getattr(service, "_moto_sd", []) if sd["deployment"]["id"] == deployment_id), None)


def _roll_back(backend, service, primary, reason):
    """Fails the PRIMARY deployment and rolls back to the last one that completed."""
    primary.update(rolloutState="FAILED", rolloutStateReason=reason, runningCount=0, pendingCount=0, updatedAt=utcnow())
    service._moto_ext[primary["id"]]["pauses"] = []
    previous = next((d for d in service.deployments[1:] if d["rolloutState"] == "COMPLETED"), None)
    sd = _sd_of(service, primary["id"])
    if previous is None:
        if sd:
            sd.update(status="ROLLBACK_FAILED", statusReason=reason, finishedAt=utcnow())
        return
    service.task_definition = previous["taskDefinition"]
    _new_deployment(
        backend,
        service,
        previous["taskDefinition"],
        reason=f"rolling back to deploymentId {previous['id']}.",
        rollback=False,
    )
    if sd:
        sd.update(status="ROLLBACK_IN_PROGRESS", statusReason=reason, rollbackId=service.deployments[0]["id"])
    _event(service, f"(deployment {primary['id']}) rolling back to deployment {previous['id']}.")


def _advance(backend, service):
    """Brings one service's deployments up to the current time."""
    if service.status != "ACTIVE" or service.deployment_controller.get("type") != "ECS":
        return
    now = time.monotonic()
    primary = service.deployments[0] if service.deployments else None
    state = service._moto_ext.get(primary["id"]) if primary else None
    paused = bool(state and state.get("pauses"))
    if primary and state and now >= state["due"] and primary["rolloutState"] == "IN_PROGRESS" and not paused:
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
            sd = _sd_of(service, primary["id"])
            if state["rollback"] and previous:
                service.task_definition = previous["taskDefinition"]
                _new_deployment(
                    backend,
                    service,
                    previous["taskDefinition"],
                    reason=f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}.",
                    rollback=False,
                )
                if sd:
                    sd.update(status="ROLLBACK_IN_PROGRESS", statusReason=CIRCUIT_BREAKER, rollbackId=service.deployments[0]["id"])
                _event(service, f"(deployment {primary['id']}) rolling back to deployment {previous['id']}.")
            elif sd:
                sd.update(status="STOPPED", statusReason=CIRCUIT_BREAKER, finishedAt=utcnow())
        else:
            primary.update(
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {primary['id']} completed.",
                updatedAt=utcnow(),
            )
            # The replaced deployments have drained.
            del service.deployments[1:]
            for sd in getattr(service, "_moto_sd", []):
                if sd["deployment"]["id"] == primary["id"] and sd["status"] == "IN_PROGRESS":
                    sd.update(status="SUCCESSFUL", finishedAt=utcnow())
                if sd.get("rollbackId") == primary["id"] and sd["status"] == "ROLLBACK_IN_PROGRESS":
                    sd.update(status="ROLLBACK_SUCCESSFUL", finishedAt=utcnow())
            _event(service, "has reached a steady state.")
    primary = service.deployments[0] if service.deployments else None
    state = service._moto_ext.get(primary["id"]) if primary else None
    if primary and state and primary["rolloutState"] != "FAILED":
        primary["desiredCount"] = service.desired_count
        done = now >= state["due"] and not state.get("pauses")
        running = service.desired_count if done else min(state["from"], service.desired_count)
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


def _find_sd(backend, arn):
    for service in backend.services.values():
        for sd in getattr(service, "_moto_sd", []):
            if sd["serviceDeploymentArn"] == arn:
                return service, sd
    raise InvalidParameterException(f"Service deployment {arn} not found.")


def _sd_view(service, sd, brief):
    """The ServiceDeploymentBrief / ServiceDeployment shape of a service deployment."""
    out = {k: sd[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "createdAt", "startedAt", "status")}
    for k in ("finishedAt", "statusReason"):
        if sd.get(k) is not None:
            out[k] = sd[k]
    if brief:
        return out
    out["updatedAt"] = sd["deployment"]["updatedAt"]
    out["deploymentConfiguration"] = {"strategy": sd["strategy"]}
    pauses = service._moto_ext.get(sd["deployment"]["id"], {}).get("pauses") or []
    if sd["status"] == "IN_PROGRESS" and pauses:
        out["lifecycleStage"] = pauses[0]["stage"]
        out["lifecycleHookDetails"] = [
            {"hookId": pauses[0]["hookId"], "targetType": "PAUSE", "status": "AWAITING_ACTION"}
        ]
    elif sd["status"] in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
        out["lifecycleStage"] = "SCALE_UP"
    return out


def _install_service_deployments(backend_cls):
    response_cls = responses.EC2ContainerServiceResponse

    def list_service_deployments(self):
        backend = self.ecs_backend
        _advance_all(backend)
        name = str(self._get_param("service", "")).split("/")[-1]
        cluster = str(self._get_param("cluster", "default")).split("/")[-1]
        statuses = self._get_param("status") or []
        try:
            service = backend._get_service(cluster, name)
        except Exception:
            raise ServiceNotFoundException
        found = [
            _sd_view(service, sd, brief=True)
            for sd in reversed(getattr(service, "_moto_sd", []))
            if not statuses or sd["status"] in statuses
        ]
        return responses.ActionResult({"serviceDeployments": found})

    def describe_service_deployments(self):
        backend = self.ecs_backend
        _advance_all(backend)
        found, failures = [], []
        for arn in self._get_param("serviceDeploymentArns") or []:
            try:
                service, sd = _find_sd(backend, arn)
                found.append(_sd_view(service, sd, brief=False))
            except InvalidParameterException:
                failures.append({"arn": arn, "reason": "MISSING"})
        return responses.ActionResult({"serviceDeployments": found, "failures": failures})

    def continue_service_deployment(self):
        backend = self.ecs_backend
        _advance_all(backend)
        arn = self._get_param("serviceDeploymentArn")
        hook_id = self._get_param("hookId")
        action = self._get_param("action") or "CONTINUE"
        service, sd = _find_sd(backend, arn)
        deployment = sd["deployment"]
        state = service._moto_ext.get(deployment["id"], {})
        pauses = state.get("pauses") or []
        if sd["status"] != "IN_PROGRESS" or not pauses or pauses[0]["hookId"] != hook_id:
            raise InvalidParameterException(f"Lifecycle hook {hook_id} of {arn} is not awaiting action.")
        if action == "ROLLBACK":
            _roll_back(backend, service, deployment, "Service deployment rolled back: ContinueServiceDeployment ROLLBACK.")
        else:
            pauses.pop(0)
            if not pauses:
                state["due"] = time.monotonic() + state["seconds"]
            _event(service, f"(deployment {deployment['id']}) continued after lifecycle hook {hook_id}.")
        _advance(backend, service)
        return responses.ActionResult({"serviceDeploymentArn": arn})

    def stop_service_deployment(self):
        backend = self.ecs_backend
        _advance_all(backend)
        arn = self._get_param("serviceDeploymentArn")
        stop_type = self._get_param("stopType") or "ROLLBACK"
        service, sd = _find_sd(backend, arn)
        if stop_type != "ROLLBACK":
            raise InvalidParameterException(f"stopType {stop_type} is not modelled.")
        if sd["status"] != "IN_PROGRESS":
            raise InvalidParameterException(f"Service deployment {arn} is {sd['status']}.")
        _roll_back(backend, service, sd["deployment"], "Service deployment rolled back: StopServiceDeployment ROLLBACK.")
        _advance(backend, service)
        return responses.ActionResult({"serviceDeploymentArn": arn})

    response_cls.list_service_deployments = list_service_deployments
    response_cls.describe_service_deployments = describe_service_deployments
    response_cls.continue_service_deployment = continue_service_deployment
    response_cls.stop_service_deployment = stop_service_deployment


def install():
    backend_cls = models.EC2ContainerServiceBackend
    _install_service_deployments(backend_cls)
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
