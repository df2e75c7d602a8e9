/** A named collection of factories: every model part is a named entry point (timm-style). */
export class Registry<TArgs, T, TInfo = Record<string, unknown>> {
  private readonly entries = new Map<string, { factory: (args: TArgs) => T; info: TInfo }>();

  /** @param kind what the entries are, for error messages ('encoder', 'decoder'). */
  constructor(private readonly kind: string) {}

  /** Adds `name`; registering a taken name is an error unless `replace` is set. */
  register(name: string, factory: (args: TArgs) => T, info: TInfo, replace = false): void {
    const key = normalise(name);
    if (this.entries.has(key) && !replace) throw new Error(`${this.kind} '${name}' is already registered`);
    this.entries.set(key, { factory, info });
  }

  has(name: string): boolean {
    return this.entries.has(normalise(name));
  }

  /** Sorted registered names. */
  list(): string[] {
    return [...this.entries.keys()].sort();
  }

  info(name: string): TInfo {
    return this.get(name).info;
  }

  create(name: string, args: TArgs): T {
    return this.get(name).factory(args);
  }

  private get(name: string) {
    const entry = this.entries.get(normalise(name));
    if (!entry) {
      const known = this.list();
      throw new Error(
        `unknown ${this.kind} '${name}'. Registered ${this.kind}s: ${known.length ? known.join(', ') : '(none: import the package that provides them)'}`,
      );
    }
    return entry;
  }
}

// Names are matched case-insensitively so 'ResNet50' and 'resnet50' are one entry.
function normalise(name: string): string {
  return name.trim().toLowerCase();
}
