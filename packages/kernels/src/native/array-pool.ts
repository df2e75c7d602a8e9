// Reuse of the native backend's float32 arrays. A fresh typed array of a training step's size is
// expensive in Node: its pages are faulted in and zeroed on first touch, and its memory is only
// returned when V8 collects the wrapper, so garbage piles up between collections (a 448² batch-8
// step of Unet/ResNet-50 peaked at 13 GiB of RSS for a 6 GiB working set) and collections run
// often. A training step allocates the same shapes every time, so a freed array of one length is
// almost always wanted again soon.

/** Default cap of the bytes kept for reuse (`BUSI_NATIVE_POOL_MIB` overrides it). */
export const DEFAULT_POOL_MIB = 4096;

/**
 * Float32 arrays kept for reuse, by length, and the bookkeeping that makes reuse safe: an array
 * is handed out again only when it was allocated by a kernel (never an array the user wrote), no tensor still views its buffer, and nobody outside
 * the backend was given it (a `dataSync()` on the cpu backend returns the stored array itself).
 */
export class ArrayPool {
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;
  /** Live tensors viewing each buffer (a Slice may view its input's buffer). */
  private readonly views = new Map<ArrayBufferLike, number>();
  /** Buffers a kernel allocated: the only ones that may be reused. */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Buffers handed out of the backend: never reused. */
  private readonly escaped = new WeakSet<ArrayBufferLike>();
  /** What the pool has done since it was made (for tests and benchmarks). */
  readonly stats: {
    /** Arrays handed out again. */
    reused: number;
    /** Arrays allocated because none of the length was free. */
    allocated: number;
  } = { reused: 0, allocated: 0 };
  /** The most bytes kept for reuse; a freed array beyond it is left to the garbage collector. */
  readonly capBytes: number;

  /** @param capBytes The most bytes kept for reuse (default `BUSI_NATIVE_POOL_MIB`, else {@link DEFAULT_POOL_MIB} MiB). */
  constructor(capBytes: number = poolCapFromEnv()) {
    this.capBytes = capBytes;
  }

  /** A float32 array of `length` elements: a reused one (its contents are stale) or a new one. */
  take(length: number): Float32Array {
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused != null) {
      this.freeBytes -= reused.byteLength;
      this.stats.reused++;
      return reused;
    }
    this.stats.allocated++;
    const fresh = new Float32Array(length);
    this.owned.add(fresh.buffer);
    return fresh;
  }

  /** Marks `values` as stored in one more tensor. */
  attach(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer != null) this.views.set(buffer, (this.views.get(buffer) ?? 0) + 1);
  }

  /** Marks `values` as given to code outside the backend: its buffer is never reused. */
  escape(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer != null) this.escaped.add(buffer);
  }

  /** A tensor storing `values` is gone: keeps the array for reuse once no tensor views its buffer. */
  detach(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer == null) return;
    const left = (this.views.get(buffer) ?? 1) - 1;
    if (left > 0) {
      this.views.set(buffer, left);
      return;
    }
    this.views.delete(buffer);
    if (!this.owned.has(buffer) || this.escaped.has(buffer)) return;
    // The last tensor to go may have been a view (a slice): keep the whole array.
    const whole = values instanceof Float32Array && values.byteOffset === 0 && values.byteLength === buffer.byteLength ? values : new Float32Array(buffer);
    if (this.freeBytes + whole.byteLength > this.capBytes) return;
    let list = this.free.get(whole.length);
    if (list == null) this.free.set(whole.length, (list = []));
    list.push(whole);
    this.freeBytes += whole.byteLength;
  }

  /** Bytes held for reuse now. */
  get heldBytes(): number {
    return this.freeBytes;
  }

  /** Drops every array held for reuse (the garbage collector then frees them). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }
}

function bufferOf(values: unknown): ArrayBufferLike | null {
  return ArrayBuffer.isView(values) ? values.buffer : null;
}

function poolCapFromEnv(): number {
  const raw = process.env.BUSI_NATIVE_POOL_MIB;
  if (raw == null || raw.trim() === '') return DEFAULT_POOL_MIB * 2 ** 20;
  const mib = Number(raw);
  if (!Number.isFinite(mib) || mib < 0) throw new Error(`busi native backend: BUSI_NATIVE_POOL_MIB must be a number of MiB ≥ 0, got '${raw}'`);
  return mib * 2 ** 20;
}
