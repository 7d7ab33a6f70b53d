"""A small Python Chanx app for tests/interop_python_app.rs: the Crowd consumer and the
room hub of chanx's tests (tests/common/crowd.rs) written with Chanx 2.13 on FastAPI and
fast-channels.

Serve it (uvicorn, WebSocket routes /ws/crowd and /ws/hub):

    app.py serve --redis URL --prefix PREFIX [--layer pubsub|queue] [--port PORT]

PORT 0 (the default) takes a free port; the first line printed is {"port": N}, once the
socket is listening. Or act as a worker, through Chanx's own event sending (the
consumer's classmethods send_event and broadcast_event), and exit:

    app.py send-event CHANNEL TEXT --redis URL --prefix PREFIX [--layer ...]
    app.py broadcast-event GROUP TEXT --redis URL --prefix PREFIX [--layer ...]
    app.py topic-broadcast TOPIC TEXT [--seq N] --redis URL --prefix PREFIX [--layer ...]

All send the event Nudge(TEXT); topic-broadcast pushes it to the subscribers of the
topic TOPIC of RoomTopic (RoomTopic.broadcast, with seq N or None). The layer is fast-channels' RedisPubSubChannelLayer
(pubsub) or RedisChannelLayer (queue), registered as "default" under PREFIX.

The consumer, like Crowd: every connection is in the group "lobby";
  whoami                      -> {"action": "you_are", "payload": <its channel name>}
  shout [groups, exclude, t]  -> broadcast say(t) to groups (its own when empty),
                                 exclude_current=exclude
  event nudge(t)              -> {"action": "say", "payload": "nudged: " + t}
The hub mounts the topic type RoomTopic, pattern room:{room}; a subscription of it:
  topic event nudge(t)        -> {"action": "say", "payload": room + ": " + t} (with the
                                 topic, and the push's seq when it has one)
Needs chanx[fast-channels]==2.13.0, fast-channels[redis]==1.1.0 and uvicorn.
"""

import argparse
import asyncio
import json
import logging
import socket
from typing import Literal

import structlog
import uvicorn
from chanx.core.decorators import event_handler, ws_handler
from chanx.core.topic import Topic
from chanx.fast_channels.websocket import AsyncJsonWebsocketConsumer
from chanx.messages.base import BaseMessage
from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fastapi import FastAPI
from starlette.routing import WebSocketRoute

LAYERS = {"pubsub": RedisPubSubChannelLayer, "queue": RedisChannelLayer}

# Chanx logs every disconnect at info level (through structlog): warnings and errors only.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class Say(BaseMessage):
    action: Literal["say"] = "say"
    payload: str


class Shout(BaseMessage):
    action: Literal["shout"] = "shout"
    payload: tuple[list[str], bool, str]


class WhoAmI(BaseMessage):
    action: Literal["whoami"] = "whoami"
    payload: None = None


class YouAre(BaseMessage):
    action: Literal["you_are"] = "you_are"
    payload: str


class Nudge(BaseMessage):
    action: Literal["nudge"] = "nudge"
    payload: str


class CrowdConsumer(AsyncJsonWebsocketConsumer):
    """Joins "lobby" on connect (before it handles any frame), as Crowd does."""

    groups = ["lobby"]
    channel_layer_alias = "default"
    send_completion = False

    @ws_handler
    async def whoami(self, _message: WhoAmI) -> YouAre:
        # Answered after the connect groups were joined: the client may rely on them.
        return YouAre(payload=self.channel_name)

    @ws_handler(output_type=Say)
    async def shout(self, message: Shout) -> None:
        groups, exclude, text = message.payload
        await self.broadcast_message(Say(payload=text), groups or None, exclude_current=exclude)

    @event_handler
    async def nudge(self, event: Nudge) -> Say:
        return Say(payload=f"nudged: {event.payload}")


class RoomTopic(Topic[Nudge]):
    """A room; its group is RoomTopic.<slug of the topic name>, as chanx's RoomTopic's."""

    pattern = "room:{room}"

    @event_handler
    async def nudge(self, event: Nudge) -> Say:
        return Say(payload=f"{self.params['room']}: {event.payload}")


class HubConsumer(AsyncJsonWebsocketConsumer):
    """Serves RoomTopic subscriptions, as chanx's Hub does."""

    topics = [RoomTopic]
    channel_layer_alias = "default"
    send_completion = False


def register_layer(args: argparse.Namespace) -> None:
    layer = LAYERS[args.layer](hosts=[args.redis], prefix=args.prefix)
    register_channel_layer("default", layer)


async def serve(port: int) -> None:
    app = FastAPI(
        routes=[
            WebSocketRoute("/ws/crowd", CrowdConsumer.as_asgi()),
            WebSocketRoute("/ws/hub", HubConsumer.as_asgi()),
        ]
    )
    # Listening before the port is printed: a client may connect at once (uvicorn
    # answers once it has started).
    sock = socket.create_server(("127.0.0.1", port))
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    await server.serve(sockets=[sock])


async def send_event(channel: str, text: str) -> None:
    await CrowdConsumer.send_event(Nudge(payload=text), channel)


async def broadcast_event(group: str, text: str) -> None:
    await CrowdConsumer.broadcast_event(Nudge(payload=text), group)


async def topic_broadcast(topic: str, text: str, seq: int | None) -> None:
    await RoomTopic.broadcast(topic, Nudge(payload=text), seq=seq)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve")
    serve_command.add_argument("--port", type=int, default=0)
    for name, target in (
        ("send-event", "channel"),
        ("broadcast-event", "group"),
        ("topic-broadcast", "topic"),
    ):
        command = commands.add_parser(name)
        command.add_argument(target)
        command.add_argument("text")
    commands.choices["topic-broadcast"].add_argument("--seq", type=int)
    for command in commands.choices.values():
        command.add_argument("--redis", default="redis://127.0.0.1:6379")
        command.add_argument("--prefix", default="asgi")
        command.add_argument("--layer", choices=sorted(LAYERS), default="pubsub")
    args = parser.parse_args()
    register_layer(args)
    if args.command == "serve":
        asyncio.run(serve(args.port))
    elif args.command == "send-event":
        asyncio.run(send_event(args.channel, args.text))
    elif args.command == "broadcast-event":
        asyncio.run(broadcast_event(args.group, args.text))
    else:
        asyncio.run(topic_broadcast(args.topic, args.text, args.seq))


if __name__ == "__main__":
    main()
