"""Coordination between the nodes of a cluster: who runs a conversation's turn, who reloads, who is over a limit.

    locks.py        `SenderLocks`: one turn per conversation at a time. `StoreSenderLocks` (the tracker store's
                    own lock: threads, and processes sharing a state folder) is the default;
                    `RedisSenderLocks` (a lease renewed while the turn runs, and a fencing token) spans machines
    fencing.py      the fencing token of the turn running now, and the check a store makes before a write
    store.py        `CoordinatedTrackerStore`: a tracker store whose `lock` is a `SenderLocks`
    broadcast.py    the knowledge / model reload broadcast over Redis pub/sub (`supportbot:reload`)
    rate_limits.py  `RedisRateLimiter`: token buckets shared by every node (fails open when Redis is down)
    connection.py   Redis clients from `Settings.redis_url`, with short timeouts and no hidden retries

The package imports nothing itself: the tracker store imports `fencing` alone, and `locks` imports the
tracker store. Import from the modules.

Without `redis_url` none of the Redis parts is built: one machine keeps its file locks, per-process limits
and file watcher (docs/deploy.md, Redis).
"""
