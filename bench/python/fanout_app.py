"""The fan-out benchmark server in Python Chanx 2.13 (FastAPI, fast-channels, uvicorn):
the protocol of chanx's `FanoutConsumer` (bench/src/servers.rs) at /ws/fanout.

    fanout_app.py --port PORT --redis URL --prefix PREFIX

Every connection joins the group "fanout" on connect; `ping` answers `pong` (after the
join, so a pong proves membership) and `fire` N broadcasts {"action": "fanout",
"payload": N} to the group, the sender included. The layer is fast-channels'
RedisPubSubChannelLayer under PREFIX: processes with the same PREFIX share the group.
Chanx's defaults otherwise (no completion frames, no message logging). Needs
chanx[fast-channels]==2.13.0, fast-channels[redis]==1.1.0 and uvicorn (`.ci/run`
installs them into target/interop-venv).
"""

import argparse
import logging
from typing import Literal

import structlog
import uvicorn
from chanx.core.decorators import ws_handler
from chanx.fast_channels.websocket import AsyncJsonWebsocketConsumer
from chanx.messages.base import BaseMessage
from chanx.messages.incoming import PingMessage
from chanx.messages.outgoing import PongMessage
from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fastapi import FastAPI
from starlette.routing import WebSocketRoute

# Chanx logs every disconnect at info level (through structlog): warnings and errors only.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class Fire(BaseMessage):
    action: Literal["fire"] = "fire"
    payload: int


class Fanout(BaseMessage):
    action: Literal["fanout"] = "fanout"
    payload: int


class FanoutConsumer(AsyncJsonWebsocketConsumer):
    groups = ["fanout"]
    channel_layer_alias = "default"

    @ws_handler
    async def ping(self, _message: PingMessage) -> PongMessage:
        return PongMessage()

    @ws_handler(output_type=Fanout)
    async def fire(self, message: Fire) -> None:
        await self.broadcast_message(Fanout(payload=message.payload))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--prefix", default="asgi")
    args = parser.parse_args()
    register_channel_layer("default", RedisPubSubChannelLayer(hosts=[args.redis], prefix=args.prefix))
    app = FastAPI(routes=[WebSocketRoute("/ws/fanout", FanoutConsumer.as_asgi())])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
