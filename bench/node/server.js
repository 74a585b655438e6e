// Second baseline for bench/: a minimal broadcast server on node's `ws` library.
// It speaks the same subset of our protocol as bench/baseline_ws.py (hello -> welcome +
// snapshot or missed events, answer/ask -> one event serialised once and sent to every
// viewer in a plain loop, votes tallied every --tally-interval, ping -> pong), so the
// same load generator drives it unchanged. Usage: node server.js --port P
'use strict';
const { WebSocketServer } = require('ws');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('--port'));
const tallyInterval = Number(arg('--tally-interval', '0.3')) * 1000;

const viewers = new Set();
const log = [];
const votes = new Map();
const epoch = 'baseline';
let devices = 0;
let questions = 0;
let dirty = false;
let presence = -1;

function append(type, data) {
  const frame = JSON.stringify({ seq: log.length + 1, type, at: Date.now(), data });
  log.push(frame);
  for (const ws of viewers) ws.send(frame);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
wss.on('connection', (ws) => {
  let device = null;
  ws.on('message', (raw) => {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      ws.send(JSON.stringify({ type: 'error', re: null, code: 'invalid_json' }));
      return;
    }
    if (device === null) {
      device = msg.device || `d${++devices}`;
      const since = msg.since;
      const resume = since !== undefined && msg.epoch === epoch && since <= log.length;
      ws.send(JSON.stringify({ type: 'welcome', session_id: 1, epoch, role: 'viewer', device,
        seq: log.length, mode: resume ? 'resume' : 'snapshot' }));
      if (!resume) ws.send(JSON.stringify({ type: 'snapshot', seq: log.length, questions: [] }));
      else if (since < log.length) ws.send('[' + log.slice(since).join(',') + ']');
      viewers.add(ws);
      return;
    }
    let result = {};
    if (msg.type === 'answer') {
      append('question.answered', { id: msg.question_id,
        answer: { text: msg.text, at: Date.now(), by: '李明' } });
      result = { question_id: msg.question_id };
    } else if (msg.type === 'ask') {
      const id = ++questions;
      append('question.asked', { question: { id, status: 'pending' } });
      result = { question_id: id, status: 'pending' };
    } else if (msg.type === 'vote' || msg.type === 'unvote') {
      if (!votes.has(msg.question_id)) votes.set(msg.question_id, new Set());
      const voters = votes.get(msg.question_id);
      const before = voters.size;
      if (msg.type === 'vote') voters.add(device); else voters.delete(device);
      dirty = dirty || voters.size !== before;
      result = { question_id: msg.question_id, voted: msg.type === 'vote' };
    } else if (msg.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', re: msg.id }));
      return;
    }
    ws.send(JSON.stringify({ type: 'ack', re: msg.id, result }));
  });
  ws.on('close', () => viewers.delete(ws));
  ws.on('error', () => viewers.delete(ws));
});

setInterval(() => {
  if (viewers.size !== presence) {
    presence = viewers.size;
    const frame = JSON.stringify({ type: 'presence', viewers: presence });
    for (const ws of viewers) ws.send(frame);
  }
  if (dirty) {
    dirty = false;
    const counts = {};
    for (const [q, v] of votes) counts[String(q)] = v.size;
    append('votes.tallied', { votes: counts });
  }
}, tallyInterval);

wss.on('listening', () => console.log(`listening on ${port}`));
