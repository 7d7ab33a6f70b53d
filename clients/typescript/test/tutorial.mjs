// Drives the tutorial app (System Echo, Room Chat, Background Jobs) through its generated
// client, compiled to JavaScript: node test/tutorial.mjs CLIENT.mjs ws://HOST:PORT
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";

const [modulePath, base] = process.argv.slice(2);
const api = await import(pathToFileURL(modulePath).href);
const options = { WebSocket, timeout: 5000 };
/** The first frame `handler` matches among those of `action` that `client` dispatches. */
const next = (client, action, matches = () => true) =>
  new Promise((resolve) => {
    const off = client.on(action, (frame) => matches(frame) && (off(), resolve(frame)));
  });

// System Echo: the connect message is an event; requests resolve with the reply carrying their ref.
const system = new api.SystemClient(`${base}${api.SystemClient.address}`, options);
const greeting = next(system, "system_echo");
await system.connect();
assert.equal((await greeting).payload.message, "🔧 System: Connection established!");
const pong = await system.ping();
assert.equal(pong.action, "pong");
assert.equal(pong.ref, "1");

// Many requests in flight: each resolves with its own reply.
const echoes = await Promise.all(Array.from({ length: 40 }, (_, i) => system.userMessage({ message: `m${i}` })));
echoes.forEach((echo, i) => assert.equal(echo.payload.message, `🔧 System Echo: m${i}`));
assert.equal(new Set(echoes.map((echo) => echo.ref)).size, echoes.length);

// An error frame carrying the request's ref rejects it with ChanxError.
await assert.rejects(system.userMessage({ message: 123 }), (error) => {
  assert.ok(error instanceof api.ChanxError);
  assert.equal(error.frame.action, "error");
  assert.deepEqual(
    error.frame.payload.map((e) => [e.type, e.loc]),
    [["string_type", ["user_message", "payload", "message"]]],
  );
  return true;
});
system.close();

// Room Chat: a request without a reply resolves once sent; its broadcast reaches the room.
const room = `${base}/ws/room/typescript`;
const [ann, bob] = [new api.RoomChatClient(room, options), new api.RoomChatClient(room, options)];
await ann.connect();
await bob.connect();
const heard = next(bob, "room_notification", (frame) => frame.payload.message === "💬 hello");
assert.equal(await ann.roomChat({ message: "hello" }), undefined);
assert.equal((await heard).payload.room_name, "typescript");

// A reply that never comes: the request times out (completion frames are off on this server).
const waiting = new api.RoomChatClient(room, { ...options, completion: true, timeout: 200 });
await waiting.connect();
await assert.rejects(waiting.roomChat({ message: "anyone?" }, { timeout: 100 }), api.ChanxTimeoutError);
for (const client of [ann, bob, waiting]) {
  client.close();
}

// Background Jobs: the request resolves with the first status; the worker's result is an event.
const jobs = new api.BackgroundJobsClient(`${base}${api.BackgroundJobsClient.address}`, options);
await jobs.connect();
const result = next(jobs, "job_status", (frame) => frame.payload.status === "result");
const queuing = await jobs.job({ type: "translate", content: "hello" });
assert.equal(queuing.payload.status, "queuing");
assert.match(String((await result).payload.message), /hello/i);
jobs.close();
console.log("tutorial client: ok");
