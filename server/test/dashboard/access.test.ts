import { describe, expect, it } from 'vitest';
import { createDashboard } from '../../src/dashboard/dashboard.js';
import { connectClient, startServer } from '../helpers/server.js';
import { http, readEvents, startDashboardServer } from './harness.js';

type ApiError = { error: { code: string; message: string } };

/** Every path the page and its API answer to (documents of a plugin with data). */
const PATHS = [
  '/',
  '/app.js',
  '/app.css',
  '/favicon.svg',
  '/api/overview',
  '/api/plugins',
  '/api/plugins/notes/documents',
  '/api/sessions',
  '/api/settings',
  '/api/logs',
];

describe('dashboard access off loopback', () => {
  it('refuses every request without the token, and a wrong token, with 401', async () => {
    const { dashboardPort, dashboard } = await startDashboardServer({ host: '0.0.0.0' });
    const token = dashboard.token!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(dashboard.url()).toBe(`http://localhost:${dashboardPort}/?token=${token}`);
    for (const path of [...PATHS, '/api/events']) {
      const none = await http(dashboardPort, path);
      expect([path, none.status, none.json<ApiError>().error.code]).toEqual([
        path,
        401,
        'NEKO_ERR_DASHBOARD_TOKEN',
      ]);
      const wrong = await http(dashboardPort, path, { headers: { authorization: `Bearer ${token}x` } });
      expect([path, wrong.status]).toEqual([path, 401]);
      const truncated = await http(
        dashboardPort,
        `${path}${path.includes('?') ? '&' : '?'}token=${token.slice(0, -1)}`,
      );
      expect([path, truncated.status]).toEqual([path, 401]);
    }
    const close = await http(dashboardPort, '/api/sessions/s-1/close', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(close.status).toBe(401);
  });

  it('answers with the token as a bearer header or a query parameter, whatever the Host header', async () => {
    const { dashboardPort, dashboard } = await startDashboardServer({ host: '0.0.0.0' });
    await expectTokenAccepted(dashboardPort, dashboard.token!, '0.0.0.0', `neko.example:${dashboardPort}`);
  });

  it('hands the page an HttpOnly same-site cookie for its own files, taken only with the right value', async () => {
    const { dashboardPort, dashboard } = await startDashboardServer({ host: '0.0.0.0' });
    const page = await http(dashboardPort, `/?token=${dashboard.token!}`);
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toBe(
      `nekoconnect_dashboard_${dashboardPort}=${dashboard.token!}; HttpOnly; SameSite=Strict; Path=/`,
    );
    const pair = cookie.split(';')[0]!;
    expect((await http(dashboardPort, '/app.js', { headers: { cookie: pair } })).status).toBe(200);
    expect((await http(dashboardPort, '/api/sessions', { headers: { cookie: `a=b; ${pair}` } })).status).toBe(
      200,
    );
    expect((await http(dashboardPort, '/app.js', { headers: { cookie: `${pair}x` } })).status).toBe(401);
    // A cookie named for another port is not this dashboard's.
    const other = pair.replace(`_${dashboardPort}=`, '_1=');
    expect((await http(dashboardPort, '/app.js', { headers: { cookie: other } })).status).toBe(401);
    // A browser asking for the page without the token gets a page that says what to do.
    const refused = await http(dashboardPort, '/', { headers: { accept: 'text/html' } });
    expect([refused.status, refused.headers['content-type']]).toEqual([401, 'text/html; charset=utf-8']);
    expect(refused.body).toContain('open the URL the server printed');
  });

  it('makes a new token per dashboard unless one is given', async () => {
    const a = await startDashboardServer({ host: '0.0.0.0' });
    const b = await startDashboardServer({ host: '0.0.0.0' });
    expect(a.dashboard.token).not.toBe(b.dashboard.token);
    const given = await startDashboardServer({ host: '0.0.0.0', token: 'a-token-of-my-own-choosing' });
    expect((await http(given.dashboardPort, '/api/overview?token=a-token-of-my-own-choosing')).status).toBe(
      200,
    );
  });
});

describe('dashboard access on loopback', () => {
  it('refuses every request without the token, and a wrong token, with 401', async () => {
    const { dashboardPort, dashboard } = await startDashboardServer();
    const token = dashboard.token!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(dashboard.url()).toBe(`http://127.0.0.1:${dashboardPort}/?token=${token}`);
    for (const path of [...PATHS, '/api/events']) {
      for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
        const none = await http(dashboardPort, path, { headers: { host: `${host}:${dashboardPort}` } });
        expect([path, host, none.status, none.json<ApiError>().error.code]).toEqual([
          path,
          host,
          401,
          'NEKO_ERR_DASHBOARD_TOKEN',
        ]);
      }
      const wrong = await http(dashboardPort, path, { headers: { authorization: `Bearer ${token}x` } });
      expect([path, wrong.status]).toEqual([path, 401]);
      const truncated = await http(dashboardPort, `${path}?token=${token.slice(0, -1)}`);
      expect([path, truncated.status]).toEqual([path, 401]);
      const otherCookie = await http(dashboardPort, path, {
        headers: { cookie: `nekoconnect_dashboard_${dashboardPort}=${token.slice(1)}` },
      });
      expect([path, otherCookie.status]).toEqual([path, 401]);
    }
    const close = await http(dashboardPort, '/api/sessions/s-1/close', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect([close.status, close.json<ApiError>().error.code]).toEqual([401, 'NEKO_ERR_DASHBOARD_TOKEN']);
    // A browser asking for the page without the token gets a page that says what to do.
    const refused = await http(dashboardPort, '/', { headers: { accept: 'text/html' } });
    expect([refused.status, refused.headers['content-type']]).toEqual([401, 'text/html; charset=utf-8']);
    expect(refused.body).toContain('open the URL the server printed (it ends in ?token=...)');
  });

  it('answers with the token as a bearer header or a query parameter', async () => {
    const { dashboardPort, dashboard } = await startDashboardServer();
    await expectTokenAccepted(dashboardPort, dashboard.token!, '127.0.0.1');
  });

  it('hands the page opened with the token a cookie that then lets in its files and the API', async () => {
    const { dashboardPort, dashboard, server, port } = await startDashboardServer();
    const token = dashboard.token!;
    const page = await http(dashboardPort, `/?token=${token}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toBe(`nekoconnect_dashboard_${dashboardPort}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    const pair = cookie.split(';')[0]!;
    for (const path of PATHS) {
      const answer = await http(dashboardPort, path, { headers: { cookie: pair } });
      expect([path, answer.status]).toEqual([path, 200]);
    }
    const events = await readEvents(
      `http://127.0.0.1:${dashboardPort}/api/events`,
      (e) => e.some((x) => x.event === 'hello'),
      { cookie: pair },
    );
    expect(events[0]!.event).toBe('hello');
    await connectClient(port);
    const id = server.sessions()[0]!.id;
    const close = await http(dashboardPort, `/api/sessions/${id}/close`, {
      method: 'POST',
      headers: {
        cookie: pair,
        'content-type': 'application/json',
        origin: `http://127.0.0.1:${dashboardPort}`,
      },
    });
    expect([close.status, close.json()]).toEqual([200, { closed: true }]);
  });

  it('refuses host names that are not loopback (DNS rebinding), the token notwithstanding', async () => {
    const { dashboardPort, dashboard, request } = await startDashboardServer();
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      const ok = await request('/api/overview', { headers: { host: `${host}:${dashboardPort}` } });
      expect([host, ok.status]).toEqual([host, 200]);
    }
    for (const path of ['/', '/api/overview', `/api/overview?token=${dashboard.token!}`]) {
      const rebound = await request(path, { headers: { host: `attacker.example:${dashboardPort}` } });
      expect([path, rebound.status, rebound.json<ApiError>().error.code]).toEqual([
        path,
        403,
        'NEKO_ERR_DASHBOARD_HOST',
      ]);
    }
  });

  it('refuses a POST from another origin or without a JSON content type (cross-site requests)', async () => {
    const { dashboardPort, port, server, request } = await startDashboardServer();
    await connectClient(port);
    const id = server.sessions()[0]!.id;
    const form = await request(`/api/sessions/${id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect([form.status, form.json<ApiError>().error.code]).toEqual([415, 'NEKO_ERR_DASHBOARD_BAD_REQUEST']);
    const foreign = await request(`/api/sessions/${id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://attacker.example' },
    });
    expect([foreign.status, foreign.json<ApiError>().error.code]).toEqual([403, 'NEKO_ERR_DASHBOARD_HOST']);
    expect(server.sessions().map((s) => s.id)).toEqual([id]);
    const same = await request(`/api/sessions/${id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${dashboardPort}` },
    });
    expect(same.status).toBe(200);
  });

  it('sends the page with a content security policy that allows nothing from elsewhere', async () => {
    const { request } = await startDashboardServer();
    const page = await request('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    // Self-contained: no script, style, font or image from another host.
    for (const path of ['/', '/app.js', '/app.css']) {
      const answer = await request(path);
      expect([path, answer.status]).toEqual([path, 200]);
      expect([path, answer.body.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//gi)]).toEqual([path, null]);
      expect([path, answer.body.match(/@import|url\(\s*["']?https?:/gi)]).toEqual([path, null]);
    }
  });
});

describe('an open dashboard (loopback, no token)', () => {
  it('answers every path without a token, and still refuses host names that are not loopback', async () => {
    const { dashboardPort, dashboard, server, port } = await startDashboardServer({ open: true });
    expect(dashboard.token).toBeUndefined();
    expect(dashboard.url()).toBe(`http://127.0.0.1:${dashboardPort}/`);
    for (const path of PATHS) {
      const answer = await http(dashboardPort, path);
      expect([path, answer.status, answer.headers['set-cookie']]).toEqual([path, 200, undefined]);
    }
    const events = await readEvents(`http://127.0.0.1:${dashboardPort}/api/events`, (e) =>
      e.some((x) => x.event === 'hello'),
    );
    expect(events[0]!.event).toBe('hello');
    const settings = await http(dashboardPort, '/api/settings');
    expect(settings.json<{ dashboard: unknown }>().dashboard).toEqual({
      host: '127.0.0.1',
      port: dashboardPort,
      tokenRequired: false,
    });
    await connectClient(port);
    const id = server.sessions()[0]!.id;
    const close = await http(dashboardPort, `/api/sessions/${id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(close.status).toBe(200);
    const rebound = await http(dashboardPort, '/api/overview', {
      headers: { host: `attacker.example:${dashboardPort}` },
    });
    expect([rebound.status, rebound.json<ApiError>().error.code]).toEqual([403, 'NEKO_ERR_DASHBOARD_HOST']);
  });

  it('is refused off loopback, and with a token, as a configuration error', async () => {
    const { server } = await startServer();
    for (const host of ['0.0.0.0', '192.168.1.2', '::']) {
      expect(() => createDashboard(server, { host, open: true })).toThrow(
        expect.objectContaining({
          code: 'NEKO_ERR_CONFIG_INVALID',
          message: `an open dashboard (no access token) may listen only on loopback, not on ${host}`,
        }),
      );
    }
    expect(() => createDashboard(server, { open: true, token: 'a-token-of-my-own-choosing' })).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_CONFIG_INVALID' }),
    );
  });
});

describe('the secret', () => {
  it('appears in no page, API answer or event, even after errors', async () => {
    const secret = 'sEcReT-7f3a9c2e-dashboard-canary';
    const { dashboardPort, port, request, auth } = await startDashboardServer({}, secret);
    const client = await connectClient(port, { secret });
    await client.request('echo', 'hi');
    await client.request('notes', '3');
    await expect(client.request('boom', 'throw')).rejects.toMatchObject({ status: 500 });
    // A client with a wrong secret: its failure is logged too.
    await expect(connectClient(port, { secret: `${secret}-wrong` })).rejects.toThrow();
    const bodies: string[] = [];
    for (const path of PATHS) {
      const answer = await request(path);
      expect([path, answer.status]).toEqual([path, 200]);
      bodies.push(answer.body);
    }
    const events = await readEvents(
      `http://127.0.0.1:${dashboardPort}/api/events?after=0`,
      (e) => e.filter((x) => x.event === 'log').length >= 5,
      auth,
    );
    bodies.push(...events.map((e) => e.data));
    expect(bodies.join('\n').length).toBeGreaterThan(1000);
    for (const body of bodies) expect(body).not.toContain(secret);
  });
});

/**
 * Every path answers 200 with `token` as a bearer header (sent with `host`
 * as the Host header, when given) and as a query parameter; the event
 * stream opens; the settings say the dashboard on `listenHost` needs it.
 */
async function expectTokenAccepted(
  dashboardPort: number,
  token: string,
  listenHost: string,
  host?: string,
): Promise<void> {
  for (const path of PATHS) {
    const header = await http(dashboardPort, path, {
      headers: { authorization: `Bearer ${token}`, ...(host === undefined ? {} : { host }) },
    });
    expect([path, header.status]).toEqual([path, 200]);
    const query = await http(dashboardPort, `${path}${path.includes('?') ? '&' : '?'}token=${token}`);
    expect([path, query.status]).toEqual([path, 200]);
  }
  const events = await readEvents(`http://127.0.0.1:${dashboardPort}/api/events?token=${token}`, (e) =>
    e.some((x) => x.event === 'hello'),
  );
  expect(events[0]!.event).toBe('hello');
  const settings = await http(dashboardPort, `/api/settings?token=${token}`);
  expect(settings.json<{ dashboard: unknown }>().dashboard).toEqual({
    host: listenHost,
    port: dashboardPort,
    tokenRequired: true,
  });
}
