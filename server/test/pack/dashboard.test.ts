import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PluginView } from '../../src/dashboard/views.js';
import { http } from '../dashboard/harness.js';
import { dashboardOfFolderAndPackage } from './helpers.js';

describe('the dashboard: where a plugin came from', () => {
  it('/api/plugins gives each plugin its origin: a folder, or a package with its sha256', async () => {
    const { plugins, packed, dashboard, port } = await dashboardOfFolderAndPackage();

    const answer = await http(port, '/api/plugins', {
      headers: { authorization: `Bearer ${dashboard.token}` },
    });
    expect(answer.status).toBe(200);
    const { plugins: views } = answer.json<{ plugins: PluginView[] }>();
    const byGreeter = new Map(views.map((v) => [v.greeter, v]));
    expect(byGreeter.get('echo')).toMatchObject({
      status: 'loaded',
      dir: path.join(plugins, 'echo'),
      origin: { kind: 'folder', dir: path.join(plugins, 'echo') },
    });
    expect(byGreeter.get('greet')).toMatchObject({
      status: 'loaded',
      name: 'Greet',
      version: '1.2.3',
      dir: packed.file,
      origin: { kind: 'package', file: packed.file, sha256: packed.sha256 },
    });
  });
});
