"""The one answer path: who asks + metric queries → masked frames, each with the fields masking changed.

authorize (``success_metrics.rbac.policy``: the query bound to the tenant and row scope, or Forbidden) → compute (the
result cache: single-flight, in its lanes, shared by every role where the metric does not read the scope) → mask
(``success_metrics.rbac.masking``, per principal, after the cache). Grafana's ``/query`` and ``/annotations``, scheduled
reports (as their recipient), alert evaluation and the cache warmer (both as the service's own principal,
``success_metrics.rbac.system_principal``) all come here, so a figure is authorized, computed and masked one way
wherever it is shown. As grafana-plugin-sdk-go's QueryData: one call answers several queries, a failed query keeps its
error beside the others' frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from success_metrics.calculators import (
    CalculatorError,
    Frame,
    MetricName,
    MetricQuery,
    ScopedQuery,
    check_agent_scope,
    compute,
    get_metric,
    needs_agent_scope_check,
    shared_query,
)
from success_metrics.calculators import annotations as annotation_kinds
from success_metrics.query.cache import ResultCache
from success_metrics.query.dimension_cache import DimensionValues
from success_metrics.query.protocol.serialize import ByIdentity, merge_annotations
from success_metrics.query.sizes import rough_frame_bytes
from success_metrics.rbac import Forbidden, Grant, Principal, RbacError, masking, policy, system_principal
from success_metrics.storage import Database, StorageError, tenants


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks and under which policy: the output of identify, handed to each later stage."""

    principal: Principal
    policy: policy.Policy
    mask_key: bytes


@dataclass(frozen=True, slots=True)
class Annotations:
    """Annotation kinds over ``query``'s range; ``query.metric`` names them (a comma list; empty: every kind
    the caller may see)."""

    query: MetricQuery


Query = MetricQuery | Annotations


@dataclass(frozen=True, slots=True)
class Answer:
    """One query's masked frame, or why there is none (Forbidden, a CalculatorError, or a failure to log)."""

    frame: Frame | None
    error: Exception | None = None


Computation = Callable[[ScopedQuery], Awaitable[Frame]]
MASKED_MAX_BYTES = 32 * 2**20  # masked frames remembered (what each entry keeps alive, by sizes.rough_frame_bytes)


class Answerer:
    """The answer path over one database and its result cache; ``key_for`` gives a tenant's pseudonym key."""

    def __init__(self, db: Database, cache: ResultCache, key_for: Callable[[str], bytes], *,
                 masked_max_bytes: int = MASKED_MAX_BYTES) -> None:
        self.db = db
        self.cache = cache
        self.key_for = key_for
        # masked frames by the very frame they were masked from and what masking reads of the caller (masked)
        self.masked = ByIdentity(masked_max_bytes)
        # dimension values (template variables' options) per tenant and row scope, as long as a live frame lives
        self.dimensions = DimensionValues(db, cache.ttl_live_s)

    def context(self, principal: Principal, rules: policy.Policy) -> Context:
        return Context(principal, rules, self.key_for(principal.tenant_id))

    def system(self, tenant_id: str, job: str) -> Context:
        """The service itself for one tenant (warmer, alerts): authorized against the built-in policy."""
        return self.context(system_principal(tenant_id, job), policy.default_policy())

    async def answer(self, ctx: Context, queries: Sequence[Query], *, keep: bool = True,
                     background: bool = False) -> list[Answer]:
        """Every query's answer, in order. Storage and identity failures fail the whole call; ``keep=False``:
        nothing computed is kept in the cache (a one-off such as an alert window ending at this second);
        ``background``: computed in the lane that never holds up a waiting user (the dashboard self-check)."""
        if len(queries) == 1:  # a panel's usual single target: no tasks to gather
            return [await self._answer(ctx, queries[0], keep, background)]
        return list(await asyncio.gather(*(self._answer(ctx, q, keep, background) for q in queries)))

    async def _answer(self, ctx: Context, query: Query, keep: bool, background: bool) -> Answer:
        try:
            if isinstance(query, Annotations):
                return Answer(await self.annotations(ctx, query.query, background=background))
            return Answer(await self.frame(ctx, query, keep=keep, background=background))
        except (CalculatorError, Forbidden) as exc:
            return Answer(None, exc)
        except (StorageError, RbacError, asyncio.CancelledError):
            raise  # the service cannot answer at all
        except Exception as exc:  # one broken computation must not cost the other queries their answers
            return Answer(None, exc)

    async def frame(self, ctx: Context, query: MetricQuery, *, keep: bool = True, background: bool = False) -> Frame:
        """One metric query, masked for ``ctx``; raises Forbidden or a CalculatorError."""
        metric_def = get_metric(query.metric)
        grant = policy.authorize(ctx.principal, query, metric_def, ctx.policy)                   # authorize
        frame = await self._computed(grant, metric_def.row_scoped, self._metric, keep=keep,      # compute
                                     background=background)
        return self.masked_frame(frame, grant, ctx.mask_key)                                     # mask

    async def annotations(self, ctx: Context, query: MetricQuery, *, background: bool = False) -> Frame:
        """The kinds ``query.metric`` names, each masked, merged by time; a kind named but not allowed is
        Forbidden, one left out of "all" is just not there."""
        grants = self._annotation_grants(ctx, query)                                              # authorize
        computed = await asyncio.gather(*(self._computed(g, kind.row_scoped, self._annotations,   # compute
                                                         background=background) for g, kind in grants))
        return merge_annotations([self.masked_frame(frame, g, ctx.mask_key)                      # mask
                                  for frame, (g, _) in zip(computed, grants, strict=True)])

    def masked_frame(self, frame: Frame, grant: Grant, key: bytes) -> Frame:
        """``masking.apply``, remembered: a cached frame is served again and again, and its masked form depends only on
        that frame and on what masking reads of the grant — the role's rules and visible classes (the policy's own
        objects: a new policy version parses new ones) and the caller's tenant, role, agent id, teams and locations,
        and the tenant's pseudonym key. Equal inputs, the same masked frame (whose columns keep the serializers' memo
        hitting); a recomputed frame is a new object, so nothing masked from an old one answers it."""
        masks = grant.masks
        who = masks.principal
        objects = (frame, masks.rules, masks.visible)
        plain = (who.tenant_id, who.role, who.agent_id, who.teams, who.locations, key)
        found: Frame | None = self.masked.get(objects, plain)
        if found is None:
            found = masking.apply(frame, grant, key)
            size = rough_frame_bytes(frame) + (rough_frame_bytes(found) if found is not frame else 0)
            self.masked.put(objects, plain, found, size)
        return found

    async def warm(self, ctx: Context, query: Query) -> None:
        """Authorize and compute ``query`` ahead of anyone asking, in the lane that never holds up a waiting user.
        Nothing is served, so nothing is masked."""
        if isinstance(query, Annotations):
            for grant, kind in self._annotation_grants(ctx, query.query):
                await self._computed(grant, kind.row_scoped, self._annotations, background=True)
            return
        metric_def = get_metric(query.metric)
        grant = policy.authorize(ctx.principal, query, metric_def, ctx.policy)
        await self._computed(grant, metric_def.row_scoped, self._metric, background=True)

    def _annotation_grants(self, ctx: Context, query: MetricQuery
                           ) -> list[tuple[Grant, annotation_kinds.AnnotationKind]]:
        named = [k for k in query.metric.split(",") if k.strip()]
        grants = []
        for kind in annotation_kinds.kinds(named):
            if not policy.allowed(ctx.principal, kind, ctx.policy):
                if named:  # asked by name: say so; asked for "all": just leave it out
                    raise Forbidden(f"Role {ctx.principal.role.value} may not see {kind.title.lower()} annotations.")
                continue
            one = MetricQuery(metric=MetricName(kind.name), start=query.start, end=query.end)
            grants.append((policy.authorize(ctx.principal, one, kind, ctx.policy), kind))
        return grants

    async def _computed(self, grant: Grant, row_scoped: bool, computation: Computation, *, background: bool = False,
                        keep: bool = True) -> Frame:
        """The unmasked frame answering ``grant.scoped``, from the cache or computed once however many ask."""
        scoped = grant.scoped
        shared = shared_query(scoped, row_scoped)
        if shared is not scoped and needs_agent_scope_check(scoped):
            # the shared entry was computed without this caller's scope: check its agent filter first, hit or not
            async with self.db.tenant(scoped.tenant_id) as conn:
                await check_agent_scope(conn, scoped)
        return await self.cache.get_or_compute(shared, lambda: computation(shared), background=background,
                                               keep=keep)

    async def _metric(self, scoped: ScopedQuery) -> Frame:
        """A metric's statements read rollups, per-day summaries and short raw edges, so planning each call anew
        (a custom plan, the parameters folded in) costs more than running it: they run on generic plans."""
        async with self.db.tenant(scoped.tenant_id, generic_plans=True) as conn:
            return await compute(conn, scoped)

    async def _annotations(self, scoped: ScopedQuery) -> Frame:
        async with self.db.tenant(scoped.tenant_id) as conn:
            settings = await tenants.load_settings(conn, scoped.tenant_id)
            return await annotation_kinds.compute(conn, scoped, settings)
