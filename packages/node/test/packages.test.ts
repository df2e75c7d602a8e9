/** Every package ships a README (what it is, install, an example) and the LICENSE, and takes tfjs as a caret-ranged peer. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const workspaces: string[] = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;

describe.each(workspaces)('%s', (dir) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
  test('has a README with install and example sections, and the LICENSE', () => {
    const readme = fs.readFileSync(path.join(root, dir, 'README.md'), 'utf8');
    expect(readme.startsWith(`# ${pkg.name}\n`)).toBe(true);
    expect(readme).toContain('## Install');
    expect(readme).toContain(`npm install ${pkg.name}`);
    expect(readme).toContain('## Example');
    expect(fs.readFileSync(path.join(root, dir, 'LICENSE'), 'utf8')).toBe(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8'));
    expect(pkg.license).toBe('MIT');
  });
  test('TensorFlow.js peers are caret ranges from 4.22.0', () => {
    const peers = Object.entries(pkg.peerDependencies ?? {}).filter(([n]) => n.startsWith('@tensorflow/'));
    expect(peers.length).toBeGreaterThan(0);
    for (const [, range] of peers) expect(range).toBe('^4.22.0');
  });
});
