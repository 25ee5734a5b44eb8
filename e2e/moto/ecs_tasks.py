"""Test-only extension of moto's ECS backend: tasks started by RunTask that run, then exit.

Stock moto (5.2.5) reports a RunTask task STOPPED at the first DescribeTasks (the default
"immediate" state transition of ``ecs::task``; the state manager can only change that for every
task of the server at once), with no stopCode, startedAt, stoppedAt or exit code. This module
patches the backend so that, per task:

- RunTask records startedAt; the task is RUNNING for a while, then STOPPED with stopCode
  EssentialContainerExited, stoppedReason "Essential container in task exited", stoppedAt, and
  every container STOPPED with an exit code;
- StopTask (while it runs) stops it with stopCode UserInitiated, the given reason and exit
  code 143 (SIGTERM);
- an awsvpc task in a VPC without DNS hostnames does not crash RunTask (moto bug);
- RunTask honours ``clientToken`` as ECS does: a repeated request with the same token starts
  nothing and answers with the tasks the first one started (stock moto ignores the token, so an
  SDK retry after a lost answer would start a second run that real ECS would not).

Settings, from the task definition's tags: ``moto-ecs/task-seconds`` (how long it runs;
default ``MOTO_ECS_TASK_SECONDS``, else 2) and ``moto-ecs/exit-code`` (default 0). Time is read
when a request arrives; nothing runs in the background.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the
operator.
"""

import os
import threading
import time
from datetime import timedelta

from moto.core.utils import utcnow
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs import models, responses

SECONDS_TAG = "moto-ecs/task-seconds"
EXIT_TAG = "moto-ecs/exit-code"


def _default_seconds():
    try:
        return max(float(os.environ.get("MOTO_ECS_TASK_SECONDS", "2")), 0.0)
    except ValueError:
        return 2.0


def _settings(task_definition):
    tags = {t.get("key"): t.get("value") for t in (task_definition.tags or [])}
    try:
        seconds = float(tags.get(SECONDS_TAG, _default_seconds()))
    except ValueError:
        seconds = _default_seconds()
    try:
        exit_code = int(tags.get(EXIT_TAG, "0"))
    except ValueError:
        exit_code = 0
    return seconds, exit_code


def _stop(task, stop_code, reason, exit_code, at=None):
    run = task._moto_run
    run["stopped"] = True
    task.stop_code = stop_code
    task.stopped_reason = reason
    task.stopped_at = at or utcnow()
    task.stopping_at = task.stopped_at
    task.desired_status = "STOPPED"
    for c in task.containers:
        c.last_status = "STOPPED"
        c.exitCode = exit_code


def install():
    # Stock RunTask of an awsvpc task reads the ENI's privateDnsName, which moto sets only in
    # VPCs with DNS hostnames enabled (AttributeError otherwise).
    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = None
    backend_cls = models.EC2ContainerServiceBackend
    task_cls = models.Task
    run_task = backend_cls.run_task
    stop_task = backend_cls.stop_task
    stock_last_status = task_cls.last_status

    def patched_run(self, cluster_str, task_definition_str, *args, **kwargs):
        tasks = run_task(self, cluster_str, task_definition_str, *args, **kwargs)
        seconds, exit_code = _settings(self.describe_task_definition(task_definition_str))
        now = utcnow()
        for task in tasks:
            task._moto_run = {
                "seconds": seconds,
                "due": time.monotonic() + seconds,
                "exit": exit_code,
                "stopped": False,
            }
            task.created_at = now
            task.started_at = now
            task.stop_code = None
            for c in task.containers:
                c.last_status = "RUNNING"
                c.exitCode = None
        return tasks

    def last_status(self):
        run = getattr(self, "_moto_run", None)
        if run is None:
            return stock_last_status.fget(self)
        if not run["stopped"] and time.monotonic() >= run["due"]:
            # Exited when it was due, whenever it is looked at.
            exited = self.started_at + timedelta(seconds=run["seconds"])
            _stop(self, "EssentialContainerExited", "Essential container in task exited", run["exit"], exited)
        return "STOPPED" if run["stopped"] else "RUNNING"

    def set_last_status(self, value):
        stock_last_status.fset(self, value)

    def patched_stop(self, cluster_str, task_str, reason):
        task = None
        task_id = task_str.split("/")[-1]
        for arn, t in self.tasks.get(self._get_cluster(cluster_str).name, {}).items():
            if arn.endswith(task_id):
                task = t
        run = getattr(task, "_moto_run", None)
        # Already exited: StopTask changes nothing (as in ECS).
        if run is not None and (run["stopped"] or time.monotonic() >= run["due"]):
            _ = task.last_status  # settles the exit first
            return task
        task = stop_task(self, cluster_str, task_str, reason)
        if run is not None:
            _stop(task, "UserInitiated", reason, 143)
        return task

    response_cls = responses.EC2ContainerServiceResponse
    run_task_response = response_cls.run_task
    lock = threading.Lock()

    def patched_run_response(self):
        token = self._get_param("clientToken")
        backend = self.ecs_backend
        with lock:
            tokens = backend.__dict__.setdefault("_moto_run_tokens", {})
            if token and token in tokens:
                return responses.ActionResult({"tasks": tokens[token], "failures": []})
            backend._moto_started = []
            result = run_task_response(self)
            if token:
                tokens[token] = backend._moto_started
            return result

    def patched_run_recording(self, *args, **kwargs):
        tasks = patched_run(self, *args, **kwargs)
        self.__dict__.setdefault("_moto_started", []).extend(tasks)
        return tasks

    describe_tasks = backend_cls.describe_tasks
    list_tasks = backend_cls.list_tasks

    def settle_all(backend):
        # The answer serialises containers before lastStatus: settle an exit first.
        for tasks in backend.tasks.values():
            for task in tasks.values():
                _ = task.last_status

    def patched_describe(self, *args, **kwargs):
        settle_all(self)
        return describe_tasks(self, *args, **kwargs)

    def patched_list(self, *args, **kwargs):
        settle_all(self)
        return list_tasks(self, *args, **kwargs)

    backend_cls.describe_tasks = patched_describe
    backend_cls.list_tasks = patched_list
    task_cls.last_status = property(last_status, set_last_status)
    response_cls.run_task = patched_run_response
    backend_cls.run_task = patched_run_recording
    backend_cls.stop_task = patched_stop
