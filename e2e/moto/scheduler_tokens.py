"""Test-only extension of moto's EventBridge Scheduler: CreateSchedule honours ``ClientToken``.

EventBridge Scheduler makes CreateSchedule idempotent by its client token: a repeated request
with the same token answers with the schedule the first one created. Stock moto (5.2.5) ignores
the token and answers ConflictException, so an SDK retry after a lost answer would look like a
schedule someone else created, which real AWS would not report. This module keeps, per backend,
token -> (group, name, ARN) and answers a repeated CreateSchedule with that ARN while the
schedule still exists.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the
operator.
"""

import json
import threading

from moto.scheduler import responses


def install():
    response_cls = responses.EventBridgeSchedulerResponse
    create_schedule = response_cls.create_schedule
    lock = threading.Lock()

    def patched_create(self):
        token = self._get_param("ClientToken")
        backend = self.scheduler_backend
        with lock:
            tokens = backend.__dict__.setdefault("_moto_schedule_tokens", {})
            seen = tokens.get(token) if token else None
            if seen is not None:
                group, name, arn = seen
                try:
                    backend.get_schedule(group, name)
                    return json.dumps({"ScheduleArn": arn})
                except Exception:
                    tokens.pop(token, None)
            result = create_schedule(self)
            if token:
                group = self._get_param("GroupName")
                name = self.uri.split("?")[0].split("/")[-1]
                tokens[token] = (group, name, json.loads(result)["ScheduleArn"])
            return result

    response_cls.create_schedule = patched_create
