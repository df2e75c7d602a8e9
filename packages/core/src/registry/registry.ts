/** The facts every registry entry may carry, whatever it builds. */
export interface EntryInfo {
  /**
   * Other names the entry answers to: other libraries' spellings (smp class names differ only in
   * case, which never matters), short forms ('unet++'), former busi names. An alias builds exactly
   * what the canonical name builds; listings show the canonical name only.
   */
  aliases?: readonly string[];
}

/** One registered entry: its canonical name, its factory and its facts. */
export interface RegistryEntry<TArgs, T, TInfo> {
  /** The canonical name (as registered; matched case-insensitively). */
  name: string;
  /** Builds the entry from its arguments. */
  factory: (args: TArgs) => T;
  /** The catalogue facts registered with it. */
  info: TInfo;
}

/** A retired name that still resolves, with a warning (timm's `register_model_deprecations`). */
export interface Deprecation {
  /** The canonical name it resolves to. */
  replacement: string;
  /** Why it was retired, shown in the warning. */
  reason: string;
}

/**
 * A named collection of factories (timm-style): every model part is a named entry point, and the
 * entry carries the catalogue facts about it (aliases, reference metadata, defaults) so that
 * listings, help texts, docs and tests read them from one place. Names, aliases and deprecated
 * names are matched case-insensitively and share one namespace.
 */
export class Registry<TArgs, T, TInfo extends EntryInfo = EntryInfo> {
  private readonly entries = new Map<string, RegistryEntry<TArgs, T, TInfo>>();
  /** Lower-cased alias → lower-cased canonical name. */
  private readonly aliasTo = new Map<string, string>();
  private readonly deprecations = new Map<string, Deprecation>();
  private readonly warned = new Set<string>();

  /**
   * @param kind what the entries are, for error messages ('encoder', 'decoder').
   * @param warn where deprecation warnings go (once per name). Default `console.warn`.
   */
  constructor(
    private readonly kind: string,
    private readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {}

  /**
   * Adds `name` with its aliases (`info.aliases`). A name or alias already taken is an error unless
   * `replace` is set, which first removes the entry that holds it.
   */
  register(name: string, factory: (args: TArgs) => T, info: TInfo, replace = false): void {
    const key = normalise(name);
    const keys = [key, ...(info.aliases ?? []).map(normalise)];
    if (new Set(keys).size !== keys.length) throw new Error(`${this.kind} '${name}': an alias repeats a name (${keys.join(', ')})`);
    for (const k of keys) {
      const holder = this.entries.has(k) ? k : (this.aliasTo.get(k) ?? (this.deprecations.has(k) ? k : undefined));
      if (holder === undefined) continue;
      if (!replace) throw new Error(`${this.kind} '${k}' is already registered${holder !== k ? ` (as an alias of '${holder}')` : ''}`);
      this.remove(holder);
    }
    this.entries.set(key, { name: name.trim(), factory, info });
    for (const alias of keys.slice(1)) this.aliasTo.set(alias, key);
  }

  /**
   * Keeps retired names working: each resolves to its replacement with a one-time warning.
   * @example
   * ```ts
   * encoders.deprecate({ 'resnet-50': { replacement: 'resnet50', reason: 'smp spells it resnet50' } });
   * ```
   */
  deprecate(map: Readonly<Record<string, Deprecation>>): void {
    for (const [old, d] of Object.entries(map)) {
      const key = normalise(old);
      if (this.entries.has(key) || this.aliasTo.has(key)) throw new Error(`${this.kind} '${old}' is registered: it cannot also be deprecated`);
      if (!this.entries.has(normalise(d.replacement))) throw new Error(`${this.kind} deprecation '${old}': replacement '${d.replacement}' is not registered`);
      this.deprecations.set(key, d);
    }
  }

  /** Whether `name` is a registered name, alias or deprecated name. */
  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** The canonical name for a name, alias or deprecated name (deprecated ones warn once); throws for unknown names. */
  resolve(name: string): string {
    return this.get(name).name;
  }

  /** Sorted canonical names (aliases and deprecated names are not listed). */
  list(): string[] {
    return [...this.entries.values()].map((e) => e.name).sort();
  }

  /** Every entry, sorted by name: the catalogue. */
  catalogue(): RegistryEntry<TArgs, T, TInfo>[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The facts registered with `name` (or an alias of it). */
  info(name: string): TInfo {
    return this.get(name).info;
  }

  /** Builds `name` (or an alias of it) from `args`. */
  create(name: string, args: TArgs): T {
    return this.get(name).factory(args);
  }

  private remove(key: string): void {
    this.deprecations.delete(key);
    const canonical = this.aliasTo.get(key) ?? key;
    this.entries.delete(canonical);
    for (const [alias, to] of [...this.aliasTo]) if (to === canonical) this.aliasTo.delete(alias);
  }

  private lookup(name: string): RegistryEntry<TArgs, T, TInfo> | undefined {
    const key = normalise(name);
    const direct = this.entries.get(key) ?? this.entries.get(this.aliasTo.get(key) ?? '');
    if (direct) return direct;
    const d = this.deprecations.get(key);
    if (!d) return undefined;
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.warn(`${this.kind} '${name}' is deprecated: use '${d.replacement}' (${d.reason})`);
    }
    return this.entries.get(normalise(d.replacement));
  }

  private get(name: string): RegistryEntry<TArgs, T, TInfo> {
    const entry = typeof name === 'string' ? this.lookup(name) : undefined;
    if (!entry) {
      const known = this.list();
      throw new Error(
        `unknown ${this.kind} '${String(name)}'. Registered ${this.kind}s: ${known.length ? known.join(', ') : '(none: import the package that provides them)'}`,
      );
    }
    return entry;
  }
}

// Names are matched case-insensitively so 'ResNet50' and 'resnet50' (and smp's 'UnetPlusPlus' and
// busi's 'unetplusplus') are one entry.
function normalise(name: string): string {
  return name.trim().toLowerCase();
}
