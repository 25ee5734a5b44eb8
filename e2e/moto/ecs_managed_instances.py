"""Test-only extension of moto's ECS backend: Amazon ECS Managed Instances capacity providers.

Stock moto 5.2.5 knows only Auto Scaling group capacity providers: CreateCapacityProvider and
UpdateCapacityProvider with ``managedInstancesProvider`` fail inside moto (500). This module
keeps such a provider as sent: CreateCapacityProvider stores ``managedInstancesProvider``,
``cluster`` and ``type: MANAGED_INSTANCES`` (ACTIVE at once); UpdateCapacityProvider replaces
``managedInstancesProvider`` (keeping ``capacityOptionType``, which the update cannot carry).
Describe, tags and delete are stock moto. Nothing is launched; no IAM or EC2 check is made.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the operator.
"""

from moto.ecs import models, responses


def install():
    backend = models.EC2ContainerServiceBackend
    original_create = backend.create_capacity_provider
    original_update = backend.update_capacity_provider

    def create_capacity_provider(self, name, asg_details, tags, mi_details=None, cluster=None):
        if mi_details is None:
            provider = original_create(self, name, asg_details, tags)
            provider.managed_instances_provider = None
            provider.cluster = None
            provider.type = "EC2_AUTOSCALING"
            return provider
        provider = original_create(self, name, {}, tags)
        provider.auto_scaling_group_provider = None
        provider.managed_instances_provider = mi_details
        provider.cluster = cluster
        provider.type = "MANAGED_INSTANCES"
        return provider

    def update_capacity_provider(self, name_or_arn, asg_provider, mi_details=None):
        if mi_details is None:
            return original_update(self, name_or_arn, asg_provider)
        provider = self._get_provider(name_or_arn)
        kept = (provider.managed_instances_provider or {}).get("instanceLaunchTemplate", {})
        if "capacityOptionType" in kept:
            mi_details.setdefault("instanceLaunchTemplate", {})["capacityOptionType"] = kept[
                "capacityOptionType"
            ]
        provider.managed_instances_provider = mi_details
        provider.update_status = "UPDATE_COMPLETE"
        return provider

    def create_response(self):
        provider = self.ecs_backend.create_capacity_provider(
            self._get_param("name"),
            self._get_param("autoScalingGroupProvider"),
            self._get_param("tags"),
            self._get_param("managedInstancesProvider"),
            self._get_param("cluster"),
        )
        return responses.ActionResult({"capacityProvider": provider})

    def update_response(self):
        provider = self.ecs_backend.update_capacity_provider(
            self._get_param("name"),
            self._get_param("autoScalingGroupProvider"),
            self._get_param("managedInstancesProvider"),
        )
        return responses.ActionResult({"capacityProvider": provider})

    backend.create_capacity_provider = create_capacity_provider
    backend.update_capacity_provider = update_capacity_provider
    responses.EC2ContainerServiceResponse.create_capacity_provider = create_response
    responses.EC2ContainerServiceResponse.update_capacity_provider = update_response
