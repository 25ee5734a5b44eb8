"""Test-only extension of moto's ECS backend: Express services (ECS Express Mode).

Real ECS: CreateExpressGatewayService provisions, in one call, a Fargate service with a
managed task definition, an Application Load Balancer (shared per VPC), a target group,
security groups, Application Auto Scaling and an HTTPS URL under ``ecs.<region>.on.aws``.
DescribeExpressGatewayService reports the service's status and its active configurations
(service revisions, each with its ingress paths); UpdateExpressGatewayService deploys a new
configuration; DeleteExpressGatewayService drains the service and removes what it created.
The service is an ordinary ECS service: DescribeServices shows it, with its deployments and
``resourceManagementType: ECS`` (a service the customer manages reports ``CUSTOMER``).

Stock moto 5.2.5 has none of the four operations. This model keeps:

- a real moto ECS service of the same name in the cluster (so DescribeServices, its tags and
  the deployments of ecs_deployments.py apply), with a task definition registered per
  configuration (family ``express-<serviceName>``), unless the request names a
  ``taskDefinitionArn``, reported by DescribeServices with ``resourceManagementType: ECS``
  (other services report none, where ECS says ``CUSTOMER``);
- the configuration as sent, with ECS's documented defaults filled in (containerPort 80,
  healthCheckPath ``/ping``, cpu 256, memory 512, X86_64, scaling 1-20 tasks on AVERAGE_CPU
  60), one active configuration at a time, and a made-up but deterministic ingress path
  ``https://<serviceName>.ecs.<region>.on.aws`` (PUBLIC);
- status: the moto service's (ACTIVE right away; INACTIVE once deleted).

Tags of the request whose keys start with ``moto-ecs/`` are copied to the task definitions it
registers, so the settings of ecs_deployments.py (``moto-ecs/deployment-seconds`` ...) apply.

An update that changes what the task runs (container, cpu, memory, roles, architecture,
task definition) registers a new task definition and starts a new deployment; a scaling
change sets the service's desired count to ``minTaskCount``. No load balancer, certificate,
security group or scaling policy is created; no IAM check is made.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the
operator.
"""

import time

from moto.core.exceptions import ServiceException
from moto.ecs import responses
from moto.ecs.exceptions import InvalidParameterException

TASK_FIELDS = (
    "primaryContainer",
    "cpu",
    "memory",
    "cpuArchitecture",
    "executionRoleArn",
    "taskRoleArn",
    "taskDefinitionArn",
)
UPDATABLE = TASK_FIELDS + ("healthCheckPath", "networkConfiguration", "scalingTarget")


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


def _records(backend):
    if not hasattr(backend, "_moto_express"):
        backend._moto_express = {}
    return backend._moto_express


def _record(backend, arn):
    record = _records(backend).get(arn)
    if record is None:
        raise ResourceNotFoundException(f"Express service {arn} not found.")
    return record


def _moto_service(backend, record):
    """The moto service behind the record, or None once it is deleted."""
    return backend.services.get(f"{record['cluster']}:{record['serviceName']}")


def _status(backend, record):
    service = _moto_service(backend, record)
    return service.status if service is not None else "INACTIVE"


def _with_defaults(config):
    container = config.get("primaryContainer")
    if container is not None:
        container.setdefault("containerPort", 80)
    config.setdefault("healthCheckPath", "/ping")
    config.setdefault("cpu", "256")
    config.setdefault("memory", "512")
    config.setdefault("cpuArchitecture", "X86_64")
    scaling = config.setdefault("scalingTarget", {})
    scaling.setdefault("minTaskCount", 1)
    scaling.setdefault("maxTaskCount", 20)
    scaling.setdefault("autoScalingMetric", "AVERAGE_CPU")
    scaling.setdefault("autoScalingTargetValue", 60)
    return config


def _register(backend, record, config):
    """The task definition ARN this configuration runs."""
    if config.get("taskDefinitionArn"):
        return config["taskDefinitionArn"]
    container = config.get("primaryContainer") or {}
    definition = {
        "name": "main",
        "image": container.get("image", "public.ecr.aws/nginx/nginx:latest"),
        "essential": True,
        "portMappings": [{"containerPort": container.get("containerPort", 80)}],
    }
    for key in ("command", "environment", "secrets", "repositoryCredentials"):
        if container.get(key):
            definition[key] = container[key]
    td = backend.register_task_definition(
        family=f"express-{record['serviceName']}",
        container_definitions=[definition],
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        cpu=config["cpu"],
        memory=config["memory"],
        task_role_arn=config.get("taskRoleArn"),
        execution_role_arn=config.get("executionRoleArn"),
        tags=record["modelTags"],
    )
    return td.arn


def _new_revision(backend, record, config):
    record["revision"] += 1
    config["taskDefinitionArn"] = _register(backend, record, config)
    config["serviceRevisionArn"] = (
        f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:service-revision/"
        f"{record['cluster']}/{record['serviceName']}/{record['revision']}"
    )
    config["ingressPaths"] = [
        {
            "accessType": "PUBLIC",
            "endpoint": f"https://{record['serviceName']}.ecs.{backend.region_name}.on.aws",
        }
    ]
    config["createdAt"] = time.time()
    record["config"] = config
    record["updatedAt"] = config["createdAt"]


def _view(backend, record, with_tags):
    """The EcsExpressGatewayService shape."""
    service = _moto_service(backend, record)
    status = _status(backend, record)
    view = {
        "cluster": record["clusterArn"],
        "serviceName": record["serviceName"],
        "serviceArn": record["serviceArn"],
        "infrastructureRoleArn": record["infrastructureRoleArn"],
        "status": {"statusCode": status},
        "currentDeployment": record["config"]["serviceRevisionArn"],
        "activeConfigurations": [record["config"]] if status != "INACTIVE" else [],
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
    }
    if with_tags and service is not None:
        view["tags"] = service.tags or []
    return view


def install():
    response_cls = responses.EC2ContainerServiceResponse

    def create_express_gateway_service(self):
        backend = self.ecs_backend
        params = self._get_params()
        cluster = backend._get_cluster(params.get("cluster", "default"))
        name = params.get("serviceName")
        if not name:
            raise InvalidParameterException("serviceName is required by this model.")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status != "INACTIVE":
            raise InvalidParameterException(
                f"Creation of service was not idempotent: {name} already exists."
            )
        record = {
            "cluster": cluster.name,
            "clusterArn": cluster.arn,
            "serviceName": name,
            "infrastructureRoleArn": params.get("infrastructureRoleArn"),
            "revision": 0,
            "createdAt": time.time(),
            "modelTags": [
                t for t in params.get("tags") or [] if t.get("key", "").startswith("moto-ecs/")
            ],
        }
        config = _with_defaults({k: params[k] for k in UPDATABLE if k in params})
        _new_revision(backend, record, config)
        network = config.get("networkConfiguration")
        service = backend.create_service(
            cluster.name,
            name,
            config["scalingTarget"]["minTaskCount"],
            task_definition_str=config["taskDefinitionArn"],
            tags=params.get("tags") or [],
            launch_type="FARGATE",
            network_configuration={"awsvpcConfiguration": network} if network else None,
        )
        service.resource_management_type = "ECS"
        record["serviceArn"] = service.arn
        _records(backend)[service.arn] = record
        return responses.ActionResult({"service": _view(backend, record, False)})

    def describe_express_gateway_service(self):
        backend = self.ecs_backend
        record = _record(backend, self._get_param("serviceArn"))
        backend.describe_services(record["cluster"], [record["serviceName"]])  # advances
        with_tags = "TAGS" in (self._get_param("include") or [])
        return responses.ActionResult({"service": _view(backend, record, with_tags)})

    def update_express_gateway_service(self):
        backend = self.ecs_backend
        params = self._get_params()
        record = _record(backend, params.get("serviceArn"))
        if _status(backend, record) != "ACTIVE":
            raise InvalidParameterException("The Express service is not ACTIVE.")
        old = record["config"]
        config = {k: v for k, v in old.items() if k in UPDATABLE}
        for key in UPDATABLE:
            if key in params:
                if key == "scalingTarget":
                    config[key] = {**old.get(key, {}), **params[key]}
                else:
                    config[key] = params[key]
        if "primaryContainer" in params and "taskDefinitionArn" not in params:
            config.pop("taskDefinitionArn", None)
        config = _with_defaults(config)
        redeploy = any(config.get(k) != old.get(k) for k in TASK_FIELDS)
        if redeploy:
            if "taskDefinitionArn" not in params:
                config.pop("taskDefinitionArn", None)
            _new_revision(backend, record, config)
        else:
            config["taskDefinitionArn"] = old["taskDefinitionArn"]
            config["serviceRevisionArn"] = old["serviceRevisionArn"]
            config["ingressPaths"] = old["ingressPaths"]
            config["createdAt"] = old["createdAt"]
            record["config"] = config
            record["updatedAt"] = time.time()
        props = {"cluster": record["cluster"], "service": record["serviceName"]}
        if redeploy:
            props["task_definition"] = config["taskDefinitionArn"]
        if config["scalingTarget"] != old.get("scalingTarget"):
            props["desired_count"] = config["scalingTarget"]["minTaskCount"]
        if len(props) > 2:
            backend.update_service(props)
        answer = {
            "serviceArn": record["serviceArn"],
            "cluster": record["clusterArn"],
            "serviceName": record["serviceName"],
            "status": {"statusCode": _status(backend, record)},
            "targetConfiguration": config,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
        }
        return responses.ActionResult({"service": answer})

    def delete_express_gateway_service(self):
        backend = self.ecs_backend
        record = _record(backend, self._get_param("serviceArn"))
        if _status(backend, record) == "ACTIVE":
            backend.delete_service(record["cluster"], record["serviceName"], True)
        return responses.ActionResult({"service": _view(backend, record, False)})

    for fn in (
        create_express_gateway_service,
        describe_express_gateway_service,
        update_express_gateway_service,
        delete_express_gateway_service,
    ):
        setattr(response_cls, fn.__name__, fn)
