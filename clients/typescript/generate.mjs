#!/usr/bin/env node
// Turns a chanx AsyncAPI 3.0 document into one TypeScript module: the message types
// (json-schema-to-typescript), a union of what each channel receives and sends, and a
// client class per address. Usage: node generate.mjs (FILE.json | URL) [-o OUT.ts]
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";
import { format } from "prettier";

const USAGE = "usage: node generate.mjs (FILE.json | URL) [-o OUT.ts]";
const RUNTIME = fileURLToPath(new URL("runtime.ts", import.meta.url));
/** Members of ChanxClient a generated method must not shadow. */
const RESERVED = new Set([
  "constructor",
  "connect",
  "close",
  "connected",
  "on",
  "send",
  "request",
  "subscribeTopic",
  "unsubscribeTopic",
  "url",
]);

/** The document at `source`: a file, an app's `asyncapi.json`, or an app's URL (its `asyncapi.json`). */
async function load(source) {
  if (!/^https?:\/\//.test(source)) {
    return JSON.parse(readFileSync(source, "utf8"));
  }
  const url = new URL(source);
  if (!url.pathname.endsWith(".json")) {
    url.pathname = `${url.pathname.replace(/\/?$/, "/")}asyncapi.json`;
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
  }
  return response.json();
}

const pascal = (name) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
const camel = (name) => pascal(name).replace(/^./, (c) => c.toLowerCase());
const comment = (text, indent = "") =>
  `${indent}/**\n${text
    .replaceAll("*/", "*\\/")
    .split("\n")
    .map((l) => `${indent} *${l ? ` ${l}` : ""}`)
    .join("\n")}\n${indent} */\n`;
const last = (ref) => ref.slice(ref.lastIndexOf("/") + 1);

/** The channels, each with its address, topic, and the frames of its operations. */
function channels(document) {
  const schemaOf = (channel, ref) => {
    const message = document.components.messages[last(document.channels[channel].messages[last(ref.$ref)].$ref)];
    const name = last(message.payload.$ref);
    const schema = document.components.schemas[name];
    return { name, schema, action: schema.properties?.action?.const ?? message.name, summary: message.summary };
  };
  const result = new Map(
    Object.entries(document.channels).map(([name, channel]) => [
      name,
      {
        name,
        address: channel.address,
        description: channel.description,
        topic: channel["x-topic"],
        requests: [],
        receives: [],
        sends: [],
      },
    ]),
  );
  for (const operation of Object.values(document.operations ?? {})) {
    const channel = result.get(last(operation.channel.$ref));
    const messages = operation.messages.map((m) => schemaOf(channel.name, m));
    if (operation.action === "receive") {
      const replies = (operation.reply?.messages ?? []).map((m) => schemaOf(channel.name, m));
      channel.receives.push(...messages);
      channel.sends.push(...replies);
      for (const input of messages) {
        const answers = replies.filter((r) => r.action !== "error" && r.action !== "complete");
        channel.requests.push({ input, replies: answers, summary: operation.summary ?? input.summary });
      }
    } else {
      channel.sends.push(...messages);
    }
  }
  return [...result.values()];
}

/** The schema of a union of frames, or `never` for none. */
function union(frames, description) {
  const names = [...new Set(frames.map((f) => f.name))];
  return names.length === 0
    ? { description, tsType: "never" }
    : { description, anyOf: names.map((n) => ({ $ref: `#/definitions/${n}` })) };
}

/** The message types and each channel's unions, by json-schema-to-typescript. */
async function types(document, list) {
  const definitions = JSON.parse(
    JSON.stringify(document.components.schemas).replaceAll('"#/components/schemas/', '"#/definitions/'),
  );
  for (const channel of list) {
    const where = `channel \`${channel.name}\` (\`${channel.address}\`)`;
    for (const [suffix, frames, text] of [
      ["Receives", channel.receives, `Every frame ${where} takes from the client.`],
      ["Sends", channel.sends, `Every frame ${where} may send to the client.`],
    ]) {
      const key = `${pascal(channel.name)}${suffix}`;
      if (key in definitions) {
        throw new Error(`the schema ${key} has the name of a generated union: rename one`);
      }
      definitions[key] = { title: key, ...union(frames, text) };
    }
  }
  const unions = list.flatMap((c) => ["Receives", "Sends"].map((suffix) => ({ name: `${pascal(c.name)}${suffix}` })));
  const root = { ...union(unions, "Every frame of every channel, either way."), definitions };
  return compile(root, "AnyMessage", {
    bannerComment: "",
    format: false,
    additionalProperties: false,
    strictIndexSignatures: true,
  });
}

/** The parameter list for a request's payload: none when it is always null. */
function payloadParameter(input, type) {
  const payload = input.schema.properties?.payload;
  if (payload === undefined || payload.type === "null") {
    return "";
  }
  const optional = input.schema.required?.includes("payload") ? "" : "?";
  return `payload${optional}: ${type}["payload"], `;
}

/** One request method (`name(...): Promise<...> { ... }`), or an arrow function for a topic namespace. */
function method(channel, request, topicType) {
  const { input, replies, summary } = request;
  const inputType = `Extract<${pascal(channel.name)}Receives, { action: ${JSON.stringify(input.action)} }>`;
  const replyActions = replies.map((r) => JSON.stringify(r.action));
  const replyType =
    replies.length > 0
      ? `Extract<${pascal(channel.name)}Sends, { action: ${[...new Set(replyActions)].join(" | ")} }>`
      : "undefined";
  const payload = payloadParameter(input, inputType);
  const parameters = `${topicType ? `topic: ${topicType}, ` : ""}${payload}options?: ChanxRequestOptions`;
  const frame = [
    `action: ${JSON.stringify(input.action)}`,
    ...(topicType ? ["topic"] : []),
    ...(payload ? ["payload"] : []),
  ];
  const body = `this.request<${replyType}>({ ${frame.join(", ")} }, [${replyActions.join(", ")}], options)`;
  const replyText =
    replies.length > 0
      ? `Resolves with its reply (${[...new Set(replies.map((r) => `\`${r.action}\``))].join(", ")})`
      : "Has no reply: resolves once sent (with the `completion` option, on its `complete` frame)";
  const doc = `${summary ? `${summary}\n\n` : ""}Sends \`${input.action}\`. ${replyText}; rejects with ChanxError on an \`error\` frame.`;
  const result = replies.length > 0 ? `Promise<${replyType}>` : "Promise<void>";
  return { name: camel(input.action), doc, parameters, result, body };
}

/** The TypeScript type of the names a topic pattern matches (`room:{room}` -> `room:${string}`). */
function topicType(pattern) {
  const literal = pattern.replace(/[`\\]|\$\{/g, (c) => `\\${c}`).replace(/\{[^}]*\}/g, "${string}");
  return `\`${literal}\``;
}

/** The client class of the channels at one address. */
function clientClass(group) {
  const hub = group.find((c) => c.topic === undefined) ?? group[0];
  const hosted = group.filter((c) => c !== hub && c.topic !== undefined);
  const direct = group.filter((c) => !hosted.includes(c));
  const name = `${pascal(hub.name)}Client`;
  const incoming = group.map((c) => `${pascal(c.name)}Sends`).join(" | ");
  const outgoing = group.map((c) => `${pascal(c.name)}Receives`).join(" | ");
  const names = new Set();
  const unique = (method) => {
    const key = RESERVED.has(method.name) ? `${method.name}Request` : method.name;
    if (names.has(key)) {
      throw new Error(`two requests at ${hub.address} would be the method ${key}`);
    }
    names.add(key);
    return key;
  };
  const topicOperation = (channel, request) =>
    channel.topic !== undefined && ["subscribe", "unsubscribe"].includes(request.input.action);
  const members = [];
  for (const channel of direct) {
    for (const request of channel.requests.filter((r) => !topicOperation(channel, r))) {
      const m = method(channel, request);
      members.push(
        `${comment(m.doc, "  ")}  ${unique(m)}(${m.parameters}): ${m.result} {\n    return ${m.body};\n  }\n`,
      );
    }
  }
  for (const channel of hosted) {
    const type = topicType(channel.topic.pattern);
    const sends = `${pascal(channel.name)}Sends`;
    const entries = [
      `${comment("Subscribes to a topic; the client subscribes to it again after each reconnection.", "    ")}    subscribe: (topic: ${type}, options?: ChanxRequestOptions): Promise<Extract<${sends}, { action: "subscribed" }>> =>\n      this.subscribeTopic(topic, options),`,
      `${comment("Unsubscribes from a topic.", "    ")}    unsubscribe: (topic: ${type}, options?: ChanxRequestOptions): Promise<Extract<${sends}, { action: "unsubscribed" }>> =>\n      this.unsubscribeTopic(topic, options),`,
    ];
    const local = new Set(["subscribe", "unsubscribe"]);
    for (const request of channel.requests.filter((r) => !topicOperation(channel, r))) {
      const m = method(channel, request, type);
      if (local.has(m.name)) {
        throw new Error(`two requests of topic ${channel.topic.name} would be the method ${m.name}`);
      }
      local.add(m.name);
      entries.push(`${comment(m.doc, "    ")}    ${m.name}: (${m.parameters}): ${m.result} =>\n      ${m.body},`);
    }
    const doc = `Topic \`${channel.topic.name}\`, names \`${channel.topic.pattern}\` (channel \`${channel.name}\`)${channel.description ? `: ${channel.description}` : "."}`;
    const key = unique({ name: camel(channel.topic.name) });
    members.push(`${comment(doc, "  ")}  readonly ${key} = {\n${entries.join("\n")}\n  };\n`);
  }
  const topic = direct.find((c) => c.topic !== undefined)?.topic;
  const about = [
    `A client of \`${hub.address}\`: channel${direct.length > 1 ? "s" : ""} ${direct.map((c) => `\`${c.name}\``).join(", ")}.`,
    ...direct.filter((c) => c.description).map((c) => `\n${c.description}`),
    ...(topic
      ? [`\nThe route of topic \`${topic.name}\` (\`${topic.pattern}\`): subscribed as the connection opens.`]
      : []),
    ...(hub.address.includes("{") ? [`\nConnect to the address with its parameters filled in.`] : []),
  ].join("\n");
  return `${comment(about)}export class ${name} extends ChanxClient<${incoming}, ${outgoing}> {
  /** The channel's address on the server. */
  static readonly address = ${JSON.stringify(hub.address)};

${members.join("\n")}}
`;
}

async function main(args) {
  const output = args.indexOf("-o");
  const out = output === -1 ? undefined : args[output + 1];
  const sources = args.filter((_, i) => output === -1 || (i !== output && i !== output + 1));
  if (sources.length !== 1 || (output !== -1 && out === undefined)) {
    throw new Error(USAGE);
  }
  const document = await load(sources[0]);
  if (!String(document.asyncapi).startsWith("3.") || document.components?.schemas === undefined) {
    throw new Error(`${sources[0]}: not an AsyncAPI 3 document with components.schemas`);
  }
  const list = channels(document);
  const byAddress = new Map();
  for (const channel of list) {
    byAddress.set(channel.address, [...(byAddress.get(channel.address) ?? []), channel]);
  }
  const runtime = readFileSync(RUNTIME, "utf8").replace(/^(\/\/.*\n)+\n/, "");
  const module = await format(
    [
      `// Generated by chanx's clients/typescript/generate.mjs from the AsyncAPI document\n// ${JSON.stringify(document.info?.title)} ${document.info?.version}. Do not edit: generate it again.\n`,
      await types(document, list),
      runtime,
      ...[...byAddress.values()].map(clientClass),
    ].join("\n"),
    { parser: "typescript", printWidth: 120 },
  );
  if (out === undefined) {
    process.stdout.write(module);
  } else {
    writeFileSync(out, module);
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
