// npm run kill-test [-- --kills N --double-faults D --epochs E --seed S]: SIGKILLs a tiny training
// run at random (seeded) moments, adds double faults, resumes it each time and compares the final
// weights with an uninterrupted run's, byte for byte. Exit code 1 if they differ.
import { killCampaign } from '../../packages/node/test/reliability/kill-campaign';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

killCampaign({ kills: arg('kills', 20), doubleFaults: arg('double-faults', 3), epochs: arg('epochs', 20), seed: arg('seed', 1), log: (l) => console.log(l) }).then(
  (r) => {
    console.log(
      `kill-test: ${r.kills} SIGKILLs (${r.killsDuringSave} during a checkpoint save) and ${r.doubleFaults} double faults over ${r.starts} starts; ` +
        `final weights ${r.identical ? 'identical' : 'DIFFERENT'} to the uninterrupted run (${r.resumedHash.slice(0, 12)} vs ${r.referenceHash.slice(0, 12)}); ` +
        `uninterrupted run ${r.referenceSeconds.toFixed(1)} s`,
    );
    process.exitCode = r.identical ? 0 : 1;
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
