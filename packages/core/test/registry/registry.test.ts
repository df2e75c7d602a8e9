import { Registry, type EntryInfo } from '../../src/registry/registry';

interface Info extends EntryInfo {
  n: number;
}

function make(): { reg: Registry<number, string, Info>; warnings: string[] } {
  const warnings: string[] = [];
  const reg = new Registry<number, string, Info>('widget', (m) => warnings.push(m));
  reg.register('alpha', (x) => `alpha:${x}`, { n: 1, aliases: ['a', 'First'] });
  reg.register('beta', (x) => `beta:${x}`, { n: 2 });
  return { reg, warnings };
}

test('aliases resolve to the canonical entry, case-insensitively, and are not listed', () => {
  const { reg } = make();
  expect(reg.list()).toEqual(['alpha', 'beta']);
  expect(reg.resolve('A')).toBe('alpha');
  expect(reg.resolve(' first ')).toBe('alpha');
  expect(reg.create('FIRST', 3)).toBe('alpha:3');
  expect(reg.info('a').n).toBe(1);
  expect(reg.has('ALPHA')).toBe(true);
  expect(reg.catalogue().map((e) => [e.name, e.info.n])).toEqual([['alpha', 1], ['beta', 2]]);
});

test('a taken name or alias is refused unless replaced; replacing drops the old aliases', () => {
  const { reg } = make();
  expect(() => reg.register('a', () => 'x', { n: 3 })).toThrow(/widget 'a' is already registered \(as an alias of 'alpha'\)/);
  expect(() => reg.register('gamma', () => 'x', { n: 3, aliases: ['beta'] })).toThrow(/widget 'beta' is already registered/);
  expect(() => reg.register('delta', () => 'x', { n: 3, aliases: ['Delta'] })).toThrow(/an alias repeats a name/);
  reg.register('alpha', (x) => `new:${x}`, { n: 9 }, true);
  expect(reg.create('alpha', 1)).toBe('new:1');
  expect(reg.has('a')).toBe(false);
});

test('deprecated names resolve with one warning each, and unknown names list the registered ones', () => {
  const { reg, warnings } = make();
  reg.deprecate({ old_alpha: { replacement: 'alpha', reason: 'renamed' } });
  expect(reg.create('old_alpha', 1)).toBe('alpha:1');
  expect(reg.resolve('OLD_ALPHA')).toBe('alpha');
  expect(warnings).toEqual(["widget 'old_alpha' is deprecated: use 'alpha' (renamed)"]);
  expect(reg.list()).toEqual(['alpha', 'beta']);
  expect(() => reg.deprecate({ beta: { replacement: 'alpha', reason: '' } })).toThrow(/is registered: it cannot also be deprecated/);
  expect(() => reg.deprecate({ zeta: { replacement: 'nope', reason: '' } })).toThrow(/replacement 'nope' is not registered/);
  expect(() => reg.create('gamma', 1)).toThrow("unknown widget 'gamma'. Registered widgets: alpha, beta");
  expect(() => new Registry('thing').resolve('x')).toThrow(/\(none: import the package that provides them\)/);
});
