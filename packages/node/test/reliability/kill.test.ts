import { killCampaign } from './kill-campaign';

// The 3-kill version of `npm run kill-test`: SIGKILLed at random moments (and once a double
// fault), the resumed run ends with the same weights, byte for byte, as an uninterrupted one.
test('a tiny run killed 3 times (and one double fault) resumes to byte-identical final weights', async () => {
  const r = await killCampaign({ kills: 3, doubleFaults: 1, epochs: 2, seed: 7 });
  process.stdout.write(`kill test: ${r.kills} kills, ${r.doubleFaults} double faults, ${r.starts} starts, identical ${r.identical}\n`);
  expect(r.kills).toBe(3);
  expect(r.doubleFaults).toBe(1);
  expect(r.resumedHash).toBe(r.referenceHash);
});
