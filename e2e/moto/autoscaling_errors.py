"""Test-only fix of moto's Application Auto Scaling: DeregisterScalableTarget of a target that is
not registered, and DeleteScalingPolicy of a policy that does not exist, answer
ObjectNotFoundException, as AWS does ("the specified object could not be found").

Stock moto (5.2.5) answers ValidationException, so an SDK retry after a lost answer (the first
call took effect) looks like a failure where real AWS reports the object not found.

Loaded at server start by sitecustomize.py in this directory. Nothing here is part of the
operator.
"""

from moto.applicationautoscaling import models
from moto.core.exceptions import JsonRESTError


class ObjectNotFoundException(JsonRESTError):
    def __init__(self, message):
        super().__init__("ObjectNotFoundException", message)


def install():
    backend_cls = models.ApplicationAutoscalingBackend
    deregister = backend_cls.deregister_scalable_target
    delete_policy = backend_cls.delete_scaling_policy

    def patched_deregister(self, namespace, r_id, dimension):
        if not self._scalable_target_exists(r_id, dimension):
            raise ObjectNotFoundException(
                f"No scalable target registered for service namespace: {namespace}, "
                f"resource ID: {r_id}, scalable dimension: {dimension}"
            )
        return deregister(self, namespace, r_id, dimension)

    def patched_delete_policy(
        self, policy_name, service_namespace, resource_id, scalable_dimension
    ):
        key = models.FakeApplicationAutoscalingPolicy.formulate_key(
            service_namespace, resource_id, scalable_dimension, policy_name
        )
        if key not in self.policies:
            raise ObjectNotFoundException(
                f"No scaling policy found for service namespace: {service_namespace}, "
                f"resource ID: {resource_id}, scalable dimension: {scalable_dimension}, "
                f"policy name: {policy_name}"
            )
        return delete_policy(
            self, policy_name, service_namespace, resource_id, scalable_dimension
        )

    backend_cls.deregister_scalable_target = patched_deregister
    backend_cls.delete_scaling_policy = patched_delete_policy
