// Preloaded into the embedded Kinesis process: a server that asks to listen on every
// interface listens on 127.0.0.1 instead, so the local Kinesis is never reachable from
// the network.
const net = require("node:net");

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  } else if (first && typeof first === "object" && first.path === undefined && !first.host) {
    args[0] = { ...first, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};

// The embedded Kinesis lives only as long as the process that started it: when that one
// is gone (even killed without a chance to clean up), this one exits too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
