"""Rate limits shared by every replica: a sliding window per key in Redis, one Lua script.

The script checks every budget of a request and counts it against all of them only if
all allow it, atomically, with Redis's own clock: "30 per minute" holds across the
cluster exactly, whichever replica each request reaches. When Redis cannot be reached
the request is served (``fail="open"``: a warning, at most one every 30 s, and a
counter) or refused with 503 (``fail="closed"``); short socket timeouts keep it from
ever hanging.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Literal

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from askwiki.server.metrics import Metrics
from askwiki.server.ratelimit import Budget, LimiterUnavailable

logger = logging.getLogger(__name__)

KEY_PREFIX = "askwiki:rl:"
TIMEOUT_S = 0.5
WARN_EVERY_S = 30.0

# KEYS: one sorted set per budget. ARGV: a unique member, then limit and window (ms) per key.
# Returns 0 (counted) or the milliseconds until the request would be allowed.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
"""


class RedisRateLimiter:
    """``acquire`` like ``RateLimiter``'s, but async and shared through Redis."""

    def __init__(
        self,
        url: str,
        *,
        fail: Literal["open", "closed"] = "open",
        metrics: Metrics | None = None,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.fail = fail
        self.metrics = metrics
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S,
            retry_on_timeout=False,
            health_check_interval=10,
        )
        self._script = self._redis.register_script(SLIDING_WINDOW)
        self._warned_at = -WARN_EVERY_S

    async def acquire(self, hits: Sequence[tuple[Budget, str]]) -> float:
        """0 when the request may proceed, else the seconds until it would be allowed."""
        if not hits:
            return 0.0
        keys = [f"{self.prefix}{budget.name}:{key}" for budget, key in hits]
        args: list[str | int] = [uuid.uuid4().hex]
        for budget, _ in hits:
            args += [budget.limit, int(budget.window_s * 1000)]
        try:
            wait_ms = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            return self._unavailable(exc)
        return float(wait_ms) / 1000.0

    def _unavailable(self, exc: Exception) -> float:
        outcome = "served" if self.fail == "open" else "refused"
        if self.metrics is not None:
            self.metrics.rate_limit_backend_errors.labels(outcome).inc()
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "Rate limits unavailable (Redis: %s); requests are %s (ASKWIKI_RATE_LIMIT_FAIL=%s)",
                exc,
                outcome,
                self.fail,
            )
        if self.fail == "closed":
            raise LimiterUnavailable(str(exc)) from exc
        return 0.0

    async def close(self) -> None:
        await self._redis.aclose()
