// Drives the Topics app through its generated client, compiled to JavaScript:
// node test/topics.mjs CLIENT.mjs ws://HOST:PORT
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";

const [modulePath, base] = process.argv.slice(2);
const api = await import(pathToFileURL(modulePath).href);
/** The first frame `handler` matches among those of `action` that `client` dispatches. */
const next = (client, action, matches = () => true) =>
  new Promise((resolve) => {
    const off = client.on(action, (frame) => matches(frame) && (off(), resolve(frame)));
  });
/** The sockets opened so far, so that the test can drop one as a network failure would. */
const sockets = [];
class TrackedWebSocket extends WebSocket {
  constructor(url) {
    super(url);
    sockets.push(this);
  }
}
const hub = `${base}${api.TopicsClient.address}`;
const opened = [];
const ann = new api.TopicsClient(`${hub}?name=ann`, {
  WebSocket: TrackedWebSocket,
  timeout: 5000,
  reconnect: { initialDelay: 50 },
  onOpen: () => opened.push(Date.now()),
});
const bob = new api.TopicsClient(`${hub}?name=bob`, { WebSocket, timeout: 5000 });
await ann.connect();
await bob.connect();

// Subscribe: the reply carries the topic; the topic's state follows as an event.
const state = next(ann, "room_state");
const subscribed = await ann.roomTopic.subscribe("room:ts");
assert.equal(subscribed.action, "subscribed");
assert.equal(subscribed.topic, "room:ts");
assert.equal((await state).topic, "room:ts");
const present = next(ann, "presence", (frame) => frame.payload.members.includes("ann"));
await ann.presenceTopic.subscribe("presence:ts");
assert.equal((await present).topic, "presence:ts");

// A topic request from another connection: its reply by ref, and the push to the subscriber.
await bob.roomTopic.subscribe("room:ts");
const pushed = next(ann, "room_message", (frame) => frame.payload.text === "hi");
const accepted = await bob.roomTopic.post("room:ts", { text: "hi" });
const push = await pushed;
assert.equal(push.topic, "room:ts");
assert.equal(push.seq, accepted.payload.seq);
assert.equal(push.payload.user, "bob");

// Refusals are ChanxErrors with the topic error's reason.
await assert.rejects(ann.roomTopic.subscribe("room:staff"), (error) => {
  assert.ok(error instanceof api.ChanxError);
  assert.equal(error.frame.payload.reason, "unauthorized");
  return true;
});

// A dropped connection: the client reconnects and subscribes to its topics again.
const again = next(ann, "room_state");
sockets[0].terminate();
await again;
assert.equal(opened.length, 2);
const after = next(ann, "room_message", (frame) => frame.payload.text === "back");
await bob.roomTopic.post("room:ts", { text: "back" });
assert.equal((await after).topic, "room:ts");

// Unsubscribe: no more pushes.
const unsubscribed = await ann.roomTopic.unsubscribe("room:ts");
assert.equal(unsubscribed.action, "unsubscribed");
const missed = [];
ann.on("room_message", (frame) => missed.push(frame));
await bob.roomTopic.post("room:ts", { text: "gone" });
assert.equal((await ann.ping()).action, "pong");
assert.deepEqual(missed, []);

// The room's own route: subscribed as it opens, its frames need no topic.
const route = new api.RoomTopicClient(`${base}/ws/rooms/ts?name=cy`, { WebSocket, timeout: 5000 });
const joined = next(route, "subscribed");
await route.connect();
assert.equal((await joined).topic, "room:ts");
const own = await route.post({ text: "from the route" });
assert.equal(own.topic, "room:ts");
for (const client of [ann, bob, route]) {
  client.close();
}
console.log("topics client: ok");
