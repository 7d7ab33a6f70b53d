"""A Python Chanx process on the Redis queue channel layer, for tests/redis_queue.rs.

Usage: queue_peer.py REDIS_URLS PREFIX GROUP RUST_CHANNEL EXPECTED

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

from fast_channels.layers.redis import RedisChannelLayer


def emit(value: object) -> None:
    print(json.dumps(value), flush=True)


async def main() -> None:
    urls, prefix, group, rust_channel, expected = sys.argv[1:6]
    layer = RedisChannelLayer(hosts=urls.split(","), prefix=prefix)
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
    # Not `flush`, which would delete every key under the prefix, the Rust process's
    # messages included.
    await layer.group_discard(group, channel)
    await layer.close_pools()
    emit({"sent": True})


if __name__ == "__main__":
    asyncio.run(main())
