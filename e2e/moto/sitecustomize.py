"""Python imports this at start-up when e2e/moto is on PYTHONPATH (e2e/env sets it for moto
only): installs the test-only ECS deployment model from ecs_deployments.py, the task model
from ecs_tasks.py, the Managed Instances capacity providers of ecs_managed_instances.py, the
Express services of ecs_express.py, the gateways of ecs_gateways.py, EventBridge Scheduler's
CreateSchedule client tokens (scheduler_tokens.py) and Application Auto Scaling's not-found
answer to DeregisterScalableTarget (autoscaling_errors.py)."""

import os

if os.environ.get("MOTO_ECS_DEPLOYMENTS") == "1":
    import ecs_deployments
    import ecs_tasks

    ecs_deployments.install()
    ecs_tasks.install()

    import ecs_managed_instances

    ecs_managed_instances.install()

    import ecs_express

    ecs_express.install()

    import ecs_gateways

    ecs_gateways.install()

    import scheduler_tokens

    scheduler_tokens.install()

    import autoscaling_errors

    autoscaling_errors.install()
