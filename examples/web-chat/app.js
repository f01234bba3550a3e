/* global document, fetch */
// The web chat page: a token from the backend, then the chat plugin over
// WebSocket with the browser build of nekoconnect/client.
import { connect } from '/client.js';

const Op = { Nick: 1, Say: 2, Joined: 4, Left: 5, Renamed: 6, Error: 9 };
const log = document.getElementById('log');
const status = document.getElementById('status');

function line(text, system = false) {
  const p = document.createElement('p');
  p.textContent = text;
  if (system) p.className = 'system';
  log.append(p);
  log.scrollTop = log.scrollHeight;
}

function show(packet) {
  const body = packet.json();
  if (packet.op === Op.Say) line(`${body.nick}: ${body.text}`);
  else if (packet.op === Op.Joined) line(`${body.nick} joined`, true);
  else if (packet.op === Op.Left) line(`${body.nick} left`, true);
  else if (packet.op === Op.Renamed) line(`${body.from} is now ${body.nick}`, true);
  else if (packet.op === Op.Error) line(`error: ${body.error}`, true);
}

document.getElementById('join').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = document.getElementById('name').value.trim();
  status.textContent = 'connecting…';
  try {
    const answer = await fetch(`/token?name=${encodeURIComponent(name)}`);
    const grant = await answer.json();
    if (!answer.ok) throw new Error(grant.error);
    const client = await connect({ url: grant.url, token: grant.token, reconnect: true });
    client.on('packet', show);
    client.on('reconnecting', () => (status.textContent = 'reconnecting…'));
    client.on('reconnected', () => (status.textContent = 'connected'));
    client.on('close', () => (status.textContent = 'disconnected'));
    const nick = await client.request('chat', name, { op: Op.Nick, replyOp: [Op.Nick, Op.Error] });
    if (nick.op === Op.Error) throw new Error(nick.json().error);
    line(`you are ${nick.json().nick}`, true);
    document.getElementById('join').hidden = true;
    document.getElementById('say').hidden = false;
    status.textContent = 'connected';
    document.getElementById('say').addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = document.getElementById('text');
      const text = input.value;
      input.value = '';
      await client.send('chat', text, { op: Op.Say });
      line(`${name}: ${text}`);
    });
  } catch (err) {
    status.textContent = `could not join: ${err.message} (${err.code ?? 'error'})`;
  }
});
