"""Drives a client that Python Chanx's `chanx generate-client` made from chanx's System
Echo AsyncAPI document against a running chanx server: sends a typed `user_message` and
prints, as JSON, the typed frames received until the echo of it.

    python generated_client.py PACKAGE_DIR PACKAGE URL
"""

import asyncio
import importlib
import json
import sys


async def main(package: str, url: str) -> None:
    messages = importlib.import_module(f"{package}.system.messages")
    client_module = importlib.import_module(f"{package}.system.client")
    received: list[dict] = []

    class EchoClient(client_module.SystemClient):
        async def send_init_message(self) -> None:
            payload = messages.MessagePayload(message="from the generated client")
            await self.send_message(messages.UserMessage(payload=payload))

        async def handle_message(self, message) -> None:
            received.append(
                {
                    "type": type(message).__name__,
                    "payload_type": type(message.payload).__name__,
                    "message": message.payload.message,
                }
            )
            if len(received) == 2:
                await self.disconnect()

    await asyncio.wait_for(EchoClient(url).handle(), timeout=30)
    print(json.dumps(received))


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    asyncio.run(main(sys.argv[2], sys.argv[3]))
