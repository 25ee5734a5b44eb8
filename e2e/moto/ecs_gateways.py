"""Test-only extension of moto's ECS backend: gateways (a shared HTTPS ingress for services).

Real ECS: CreateGateway makes a gateway (ACTIVE at once; name unique in the account and region;
``clientToken`` makes a retried create return the first) whose load balancers are created only
once a service uses it. AssociateGatewayWithCluster lets the services of a cluster use it (at
most 5 gateways per cluster); a service with a ``gatewayConnectors`` entry gets a gateway route
(with its own ``https://`` URL) on the gateways associated with its cluster whose access type
(PUBLIC for an internet-facing scheme, PRIVATE for internal) its connector's filters allow, once
the service is created or updated. DisassociateGatewayFromCluster leaves the association
DISASSOCIATING until the cluster's services have no route through the gateway (an update of the
service removes it). UpdateGateway is asynchronous (UPDATE_IN_PROGRESS, then UPDATE_COMPLETE).
DeleteGateway refuses a gateway with deletion protection on (ECS's default) and one with ACTIVE
or DISASSOCIATING associations; a deleted gateway is GatewayNotFoundException afterwards.

Stock moto 5.2.5 has none of these operations and ignores ``gatewayConnectors``. This model
keeps:

- gateways by name: ARN ``arn:aws:ecs:<region>:<account>:gateway/<name>``, the request's
  settings with ECS's documented defaults (deletionProtection true, propagateTags GATEWAY,
  scheme internet-facing, port 443, HTTPS, maxAlbCount 10, httpDesync defensive, ipAddressType
  dualstack, currentAlbCount 0), tags (TagResource / UntagResource / ListTagsForResource work on
  the ARN), the create's client token; an update is UPDATE_IN_PROGRESS until the next
  DescribeGateway, which reports UPDATE_COMPLETE;
- associations (gateway, cluster) -> ACTIVE / DISASSOCIATING, removed once nothing routes;
- routes, recomputed when a service is created, updated with ``gatewayConnectors`` or deleted:
  one per (service, gateway ACTIVE-associated with its cluster and allowed by the filters),
  status ACTIVE, URL ``https://<service>.<gateway>.gateway.ecs.<region>.on.aws``. An update
  without ``gatewayConnectors`` keeps the service's connectors (the operator sends them with
  every UpdateService) and its routes.

The refusals: DeleteGateway with deletion protection on -> InvalidParameterException ("... has
deletion protection enabled ..."), with associations -> ClientException; a name taken ->
InvalidParameterException; an unknown gateway -> GatewayNotFoundException; an unknown route or
association -> ResourceNotFoundException. No load balancer, certificate or security group is
made; no IAM check.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the
operator.
"""

import time

from moto.core.exceptions import ServiceException
from moto.ecs import models, responses
from moto.ecs.exceptions import InvalidParameterException


class GatewayNotFoundException(ServiceException):
    code = "GatewayNotFoundException"


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


class ClientException(ServiceException):
    code = "ClientException"


class Gateway:
    """A gateway; `tags` is what moto's tag calls read and write."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _state(backend):
    if not hasattr(backend, "_moto_gateways"):
        backend._moto_gateways = {
            "gateways": {},  # name -> Gateway
            "associations": {},  # (gateway ARN, cluster ARN) -> status
            "connectors": {},  # service ARN -> (cluster ARN, service name, connectors)
            "routes": {},  # route ARN -> route dict
        }
    return backend._moto_gateways


def _gateway(backend, name_or_arn):
    for g in _state(backend)["gateways"].values():
        if name_or_arn in (g.name, g.arn):
            return g
    raise GatewayNotFoundException(f"The gateway {name_or_arn} was not found.")


def _alb_defaults(alb):
    alb = dict(alb or {})
    alb.setdefault("scheme", "internet-facing")
    alb.setdefault("port", 443)
    alb.setdefault("protocol", "HTTPS")
    alb.setdefault("maxAlbCount", 10)
    alb.setdefault("httpDesync", "defensive")
    network = dict(alb.get("networkConfiguration") or {})
    network.setdefault("ipAddressType", "dualstack")
    alb["networkConfiguration"] = network
    alb["currentAlbCount"] = 0
    return alb


def _view(g):
    return {
        "gatewayArn": g.arn,
        "name": g.name,
        "status": g.status,
        "infrastructureRoleArn": g.infrastructureRoleArn,
        "deletionProtection": g.deletionProtection,
        "configuration": {"hostSharedAlb": g.alb},
        "accessType": g.accessType,
        "propagateTags": g.propagateTags,
        "tags": g.tags or [],
        "createdAt": g.createdAt,
        "updatedAt": g.updatedAt,
    }


def _settle(backend):
    """Associations left DISASSOCIATING with no route through them are gone."""
    state = _state(backend)
    routed = {(r["gatewayArn"], r["clusterArn"]) for r in state["routes"].values()}
    for key, status in list(state["associations"].items()):
        if status == "DISASSOCIATING" and key not in routed:
            del state["associations"][key]


def _sync_routes(backend, service_arn):
    """The routes of one service, from its connectors and its cluster's ACTIVE associations."""
    state = _state(backend)
    for arn in [a for a, r in state["routes"].items() if r["serviceArn"] == service_arn]:
        del state["routes"][arn]
    entry = state["connectors"].get(service_arn)
    if entry is not None:
        cluster_arn, service_name, connectors = entry
        for connector in connectors:
            allowed = (connector.get("filters") or {}).get("accessTypes")
            for (gateway_arn, c_arn), status in state["associations"].items():
                if c_arn != cluster_arn or status != "ACTIVE":
                    continue
                g = next(g for g in state["gateways"].values() if g.arn == gateway_arn)
                if allowed and g.accessType not in allowed:
                    continue
                cluster_name = cluster_arn.split("/")[-1]
                port = connector.get("portName", "")
                route_arn = (
                    f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:gateway-route/"
                    f"{g.name}/{cluster_name}/{service_name}/{port}"
                )
                state["routes"][route_arn] = {
                    "gatewayRouteArn": route_arn,
                    "gatewayArn": g.arn,
                    "clusterArn": cluster_arn,
                    "serviceArn": service_arn,
                    "serviceContainerPortName": port,
                    "status": "ACTIVE",
                    "serviceUrl": (
                        f"https://{service_name}.{g.name}.gateway.ecs."
                        f"{backend.region_name}.on.aws"
                    ),
                }
    _settle(backend)


def _moto_service(backend, cluster_str, name_or_arn):
    cluster = backend._get_cluster(cluster_str or "default")
    for s in backend.services.values():
        if s.cluster_arn == cluster.arn and name_or_arn in (s.name, s.arn):
            return cluster, s
    return cluster, None


def install():
    response_cls = responses.EC2ContainerServiceResponse
    backend_cls = models.EC2ContainerServiceBackend

    def create_gateway(self):
        backend = self.ecs_backend
        params = self._get_params()
        state = _state(backend)
        name = params.get("name")
        if not name:
            raise InvalidParameterException("name is required.")
        token = params.get("clientToken")
        existing = state["gateways"].get(name)
        if existing is not None:
            if token and existing.clientToken == token:
                return responses.ActionResult(
                    {"gatewayArn": existing.arn, "name": name, "status": existing.status}
                )
            raise InvalidParameterException(f"A gateway with the name {name} already exists.")
        alb = _alb_defaults((params.get("configuration") or {}).get("hostSharedAlb"))
        now = time.time()
        g = Gateway(
            name=name,
            arn=f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:gateway/{name}",
            status="ACTIVE",
            infrastructureRoleArn=params.get("infrastructureRoleArn"),
            deletionProtection=params.get("deletionProtection", True),
            propagateTags=params.get("propagateTags") or "GATEWAY",
            alb=alb,
            accessType="PRIVATE" if alb["scheme"] == "internal" else "PUBLIC",
            tags=list(params.get("tags") or []),
            clientToken=token,
            createdAt=now,
            updatedAt=now,
        )
        state["gateways"][name] = g
        return responses.ActionResult({"gatewayArn": g.arn, "name": name, "status": g.status})

    def describe_gateway(self):
        backend = self.ecs_backend
        g = _gateway(backend, self._get_param("gateway"))
        view = _view(g)
        if g.status == "UPDATE_IN_PROGRESS":
            g.status = "UPDATE_COMPLETE"
        return responses.ActionResult({"gateway": view})

    def list_gateways(self):
        backend = self.ecs_backend
        names = self._get_param("names")
        out = [
            {"gatewayArn": g.arn, "name": g.name, "status": g.status, "createdAt": g.createdAt}
            for g in _state(backend)["gateways"].values()
            if not names or g.name in names
        ]
        return responses.ActionResult({"gateways": out})

    def update_gateway(self):
        backend = self.ecs_backend
        params = self._get_params()
        g = _gateway(backend, params.get("gateway"))
        for key in ("infrastructureRoleArn", "deletionProtection", "propagateTags"):
            if key in params:
                setattr(g, key, params[key])
        alb = (params.get("configuration") or {}).get("hostSharedAlb") or {}
        for key, value in alb.items():
            if key == "networkConfiguration":
                g.alb["networkConfiguration"].update(value)
            else:
                g.alb[key] = value
        g.status = "UPDATE_IN_PROGRESS"
        g.updatedAt = time.time()
        return responses.ActionResult({"gatewayArn": g.arn, "name": g.name, "status": g.status})

    def delete_gateway(self):
        backend = self.ecs_backend
        state = _state(backend)
        g = _gateway(backend, self._get_param("gateway"))
        if g.deletionProtection:
            raise InvalidParameterException(
                f"The gateway {g.name} has deletion protection enabled. Disable deletion "
                "protection before deleting the gateway."
            )
        if any(gw == g.arn for (gw, _) in state["associations"]):
            raise ClientException(
                f"The gateway {g.name} has cluster associations. Disassociate all clusters "
                "before deleting the gateway."
            )
        del state["gateways"][g.name]
        return responses.ActionResult({"gatewayArn": g.arn, "name": g.name, "status": "DELETED"})

    def associate_gateway_with_cluster(self):
        backend = self.ecs_backend
        state = _state(backend)
        g = _gateway(backend, self._get_param("gateway"))
        cluster = backend._get_cluster(self._get_param("cluster"))
        key = (g.arn, cluster.arn)
        if state["associations"].get(key) != "ACTIVE":
            count = sum(1 for (_, c) in state["associations"] if c == cluster.arn)
            if key not in state["associations"] and count >= 5:
                raise InvalidParameterException(
                    f"The cluster {cluster.name} is already associated with 5 gateways."
                )
            state["associations"][key] = "ACTIVE"
        return responses.ActionResult(
            {"gatewayArn": g.arn, "clusterArn": cluster.arn, "status": "ACTIVE"}
        )

    def disassociate_gateway_from_cluster(self):
        backend = self.ecs_backend
        state = _state(backend)
        g = _gateway(backend, self._get_param("gateway"))
        cluster = backend._get_cluster(self._get_param("cluster"))
        key = (g.arn, cluster.arn)
        if key not in state["associations"]:
            raise ResourceNotFoundException(
                f"The gateway {g.name} is not associated with cluster {cluster.name}."
            )
        state["associations"][key] = "DISASSOCIATING"
        _settle(backend)
        status = state["associations"].get(key, "INACTIVE")
        return responses.ActionResult(
            {"gatewayArn": g.arn, "clusterArn": cluster.arn, "status": status}
        )

    def list_gateway_cluster_associations(self):
        backend = self.ecs_backend
        state = _state(backend)
        gateway = self._get_param("gateway")
        cluster = self._get_param("cluster")
        wanted = self._get_param("status")
        g_arn = _gateway(backend, gateway).arn if gateway else None
        c_arn = backend._get_cluster(cluster).arn if cluster else None
        out = [
            {"gatewayArn": gw, "clusterArn": c, "status": s}
            for (gw, c), s in sorted(state["associations"].items())
            if (g_arn is None or gw == g_arn)
            and (c_arn is None or c == c_arn)
            and (not wanted or s in wanted)
        ]
        return responses.ActionResult({"gatewayClusterAssociations": out})

    def list_gateway_routes(self):
        backend = self.ecs_backend
        state = _state(backend)
        gateway = self._get_param("gateway")
        cluster = self._get_param("cluster")
        service = self._get_param("service")
        wanted = self._get_param("status")
        g_arn = _gateway(backend, gateway).arn if gateway else None
        c_arn = backend._get_cluster(cluster).arn if cluster else None
        out = []
        for r in sorted(state["routes"].values(), key=lambda r: r["gatewayRouteArn"]):
            service_name = r["serviceArn"].split("/")[-1]
            if g_arn is not None and r["gatewayArn"] != g_arn:
                continue
            if c_arn is not None and r["clusterArn"] != c_arn:
                continue
            if service is not None and service not in (r["serviceArn"], service_name):
                continue
            if wanted and r["status"] not in wanted:
                continue
            out.append({k: v for k, v in r.items() if k != "serviceUrl"})
        return responses.ActionResult({"gatewayRoutes": out})

    def describe_gateway_route(self):
        backend = self.ecs_backend
        arn = self._get_param("gatewayRouteArn")
        r = _state(backend)["routes"].get(arn)
        if r is None:
            raise ResourceNotFoundException(f"The gateway route {arn} was not found.")
        keys = (
            "gatewayRouteArn",
            "serviceArn",
            "serviceContainerPortName",
            "status",
            "serviceUrl",
        )
        return responses.ActionResult({"gatewayRoute": {k: r[k] for k in keys}})

    for fn in (
        create_gateway,
        describe_gateway,
        list_gateways,
        update_gateway,
        delete_gateway,
        associate_gateway_with_cluster,
        disassociate_gateway_from_cluster,
        list_gateway_cluster_associations,
        list_gateway_routes,
        describe_gateway_route,
    ):
        setattr(response_cls, fn.__name__, fn)

    # Services: remember their connectors and recompute their routes.
    create_service = response_cls.create_service
    update_service = response_cls.update_service
    delete_service = response_cls.delete_service

    def patched_create_service(self):
        result = create_service(self)
        backend = self.ecs_backend
        cluster, service = _moto_service(
            backend, self._get_param("cluster"), self._get_param("serviceName")
        )
        if service is not None:
            connectors = self._get_param("gatewayConnectors") or []
            _state(backend)["connectors"][service.arn] = (cluster.arn, service.name, connectors)
            _sync_routes(backend, service.arn)
        return result

    def patched_update_service(self):
        result = update_service(self)
        backend = self.ecs_backend
        cluster, service = _moto_service(
            backend, self._get_param("cluster"), self._get_param("service")
        )
        connectors = self._get_param("gatewayConnectors")
        if service is not None and connectors is not None:
            _state(backend)["connectors"][service.arn] = (cluster.arn, service.name, connectors)
            _sync_routes(backend, service.arn)
        return result

    def patched_delete_service(self):
        backend = self.ecs_backend
        cluster, service = _moto_service(
            backend, self._get_param("cluster"), self._get_param("service")
        )
        result = delete_service(self)
        if service is not None:
            _state(backend)["connectors"].pop(service.arn, None)
            _sync_routes(backend, service.arn)
        return result

    response_cls.create_service = patched_create_service
    response_cls.update_service = patched_update_service
    response_cls.delete_service = patched_delete_service

    # Tags of gateways: moto's tag calls find the resource by the ARN's type.
    get_resource = backend_cls._get_resource

    def patched_get_resource(self, resource_arn, parsed_arn):
        if parsed_arn.get("service") == "gateway":
            return _gateway(self, resource_arn)
        return get_resource(self, resource_arn, parsed_arn)

    backend_cls._get_resource = patched_get_resource
