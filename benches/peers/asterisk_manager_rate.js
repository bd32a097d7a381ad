#!/usr/bin/env node
// Decode rate of the asterisk-manager package's own AMI parser on a capture stream.
//
// The package keeps its parser (ManagerReader in lib/ami.js) private and binds it
// to the socket's 'data' event in connect(). So net.createConnection is replaced by
// a fake socket before connect() runs; the package then attaches its own reader to
// it, and each READ-byte chunk of FILE is emitted as 'data', decoded to a string
// with a StringDecoder as the socket's setEncoding('utf-8') would. The reader
// splits lines, builds one object per message and emits 'rawevent'. The package's
// own 'rawevent' listener (which only re-emits each message by name on later ticks)
// is replaced by a counter, so that only parsing is timed. No network is used.
//
// Usage: node asterisk_manager_rate.js FILE [--repeat N] [--read BYTES]
// Prints one JSON object. Start-up, module loading and one warm-up pass (for the
// JIT) are outside the timed part.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { EventEmitter } = require('events');
const { StringDecoder } = require('string_decoder');

const args = process.argv.slice(2);
const file = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const repeat = opt('--repeat', 3);
const read = opt('--read', 65536);
if (!file) {
  console.error('usage: node asterisk_manager_rate.js FILE [--repeat N] [--read BYTES]');
  process.exit(2);
}

const Manager = require('asterisk-manager');
const pkg = require('asterisk-manager/package.json');

class FakeSocket extends EventEmitter {
  constructor() { super(); this.readyState = 'open'; }
  setKeepAlive() {}
  setNoDelay() {}
  setEncoding() {}
  write() { return true; }
  end() {}
}

function onePass(data) {
  const sock = new FakeSocket();
  const realCreate = net.createConnection;
  net.createConnection = () => sock;
  const ami = Manager();           // no port: does not connect by itself
  ami.connect(5038, '127.0.0.1');  // attaches the package's reader to `sock`
  net.createConnection = realCreate;
  ami.removeAllListeners('rawevent');
  let count = 0;
  ami.on('rawevent', () => { count += 1; });
  const decoder = new StringDecoder('utf8');
  for (let i = 0; i < data.length; i += read) {
    sock.emit('data', decoder.write(data.subarray(i, i + read)));
  }
  const rest = decoder.end();
  if (rest) sock.emit('data', rest);
  return count;
}

const data = fs.readFileSync(path.resolve(file));
onePass(data);  // warm-up: let the JIT compile the reader
let messages = 0;
const start = process.hrtime.bigint();
for (let r = 0; r < repeat; r++) messages += onePass(data);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const total = data.length * repeat;
console.log(JSON.stringify({
  implementation: `asterisk-manager ${pkg.version} (Node ${process.version})`,
  bytes: total,
  messages,
  messages_per_pass: Math.floor(messages / repeat),
  seconds,
  mb_per_s: total / 1e6 / seconds,
  messages_per_s: messages / seconds,
}));
