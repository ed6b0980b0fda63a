"""What Envoy can route to: the plan's Services, their DestinationRule subsets,
and the Envoy cluster names Istio would give them."""

from __future__ import annotations

from plan import Plan, Service


def cluster_name(service: Service, subset: str = "") -> str:
    """Istio's outbound cluster name: `outbound|8081|ctx1|user-service.theater-msa.svc.cluster.local`
    (the subset empty for the whole host), so that access logs and admin pages
    read like a real sidecar's."""
    return f"outbound|{service.port}|{subset}|{service.host}"


class Registry:
    """Resolves Istio host names to the plan's Services and knows their subsets."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.subsets: dict[str, dict[str, dict[str, str]]] = {}  # service -> subset -> labels
        # Envoy cluster -> the route hash policy its DestinationRule's consistentHash asks for.
        self.hash_policies: dict[str, list[dict]] = {}

    def service(self, host: str, namespace: str) -> Service | None:
        """The Service a host names: `user-service` (relative to `namespace`, the
        namespace of the object that names it, as Istio reads short names),
        `user-service.theater-msa`, `....svc` or the full `....svc.cluster.local`."""
        name, _, rest = host.partition(".")
        service_namespace, _, suffix = (rest or namespace).partition(".")
        if suffix not in ("", "svc", "svc.cluster.local"):
            return None
        found = self.plan.services.get(name)
        return found if found is not None and found.namespace == service_namespace else None

    def known_hosts(self) -> str:
        """The host names the lab knows, for error messages."""
        return ", ".join(s.host for s in self.plan.services.values())
