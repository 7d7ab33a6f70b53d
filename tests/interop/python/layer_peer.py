"""A Python Chanx process on a Redis channel layer, for tests/redis_pubsub.rs and
tests/redis_queue.rs.

Usage: layer_peer.py LAYER REDIS_URLS PREFIX GROUP RUST_CHANNEL EXPECTED

LAYER: `pubsub` (RedisPubSubChannelLayer) or `queue` (RedisChannelLayer).
REDIS_URLS: the hosts, separated by commas.

Joins GROUP with a channel of its own, prints {"ready": <its channel name>}, prints
each of the EXPECTED messages that reach its channel (directly or through GROUP) as
{"received": <message>}, then sends what Chanx 2.13 sends (see
chanx/core/websocket.py: broadcast_message, broadcast_event, send_event): a broadcast
and an event to GROUP, an event to RUST_CHANNEL, and prints {"sent": true}.
Needs `chanx==2.13.0` and `fast-channels[redis]==1.1.0`.
"""

import asyncio
import json
import sys

from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer

LAYERS = {"pubsub": RedisPubSubChannelLayer, "queue": RedisChannelLayer}


def emit(value: object) -> None:
    print(json.dumps(value), flush=True)


async def main() -> None:
    kind, urls, prefix, group, rust_channel, expected = sys.argv[1:7]
    layer = LAYERS[kind](hosts=urls.split(","), prefix=prefix)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    emit({"ready": channel})

    for _ in range(int(expected)):
        message = await asyncio.wait_for(layer.receive(channel), timeout=10)
        emit({"received": message})

    # AsyncJsonWebsocketConsumer.broadcast_message(message, exclude_current=False)
    await layer.group_send(
        group,
        {
            "type": "handle_group_message",
            "message": {"action": "say", "payload": "hello from python"},
            "exclude_current": False,
            "from_channel": channel,
        },
    )
    # AsyncJsonWebsocketConsumer.broadcast_event(event, groups=[group])
    await layer.group_send(
        group,
        {
            "type": "handle_channel_event",
            "event_data": {"action": "nudge", "payload": "python, by group"},
        },
    )
    # AsyncJsonWebsocketConsumer.send_event(event, channel_name)
    await layer.send(
        rust_channel,
        {
            "type": "handle_channel_event",
            "event_data": {"action": "nudge", "payload": "python, by channel"},
        },
    )
    await layer.group_discard(group, channel)
    # Not the queue layer's `flush`, which would delete every key under the prefix, the
    # Rust process's messages included.
    if kind == "queue":
        await layer.close_pools()
    else:
        await layer.flush()
    emit({"sent": True})


if __name__ == "__main__":
    asyncio.run(main())
