// What an encoder's and a decoder's conformance suites share: a suite is a list of named checks that
// each throw on a broken contract, and a report of running them all, so any test runner can wrap the
// checks and a plain script can print the report.

/** One named check of a conformance suite; `run` throws an Error describing the first violation. */
export interface ConformanceCheck {
  /** What the check asserts, e.g. 'output shapes at several input sizes'; names the check in reports and test titles. */
  name: string;
  /** Runs the check; resolves when it holds, throws an error saying what differed otherwise. */
  run: () => Promise<void>;
}

/** Outcome of running a whole suite. */
export interface ConformanceReport {
  /** The component checked (its registered name). */
  name: string;
  /** Whether every check passed. */
  pass: boolean;
  /** One entry per check, in suite order. */
  results: {
    /** The check's name ({@link ConformanceCheck.name}). */
    check: string;
    /** Whether it passed. */
    pass: boolean;
    /** The error message when it failed. */
    error?: string;
    /** Wall time of the check, in seconds. */
    seconds: number;
  }[];
}

/** Runs checks in order, timing each and catching its error (never throws on a failed check). */
export async function runConformanceChecks(name: string, checks: readonly ConformanceCheck[]): Promise<ConformanceReport> {
  const results: ConformanceReport['results'] = [];
  for (const c of checks) {
    const t0 = Date.now();
    try {
      await c.run();
      results.push({ check: c.name, pass: true, seconds: (Date.now() - t0) / 1000 });
    } catch (e) {
      results.push({ check: c.name, pass: false, error: String((e as Error).message ?? e), seconds: (Date.now() - t0) / 1000 });
    }
  }
  return { name, pass: results.every((r) => r.pass), results };
}
