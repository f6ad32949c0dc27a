// Coalesces work to one run per animation frame: the stream may deliver hundreds of
// events between two frames; the store and the views see them as one batch.
// Hidden tabs get no animation frames, so a timer flushes too (keeping memory bounded).

export interface FrameClock {
  request(cb: () => void): number;
  cancel(handle: number): void;
}

export const browserClock: FrameClock = {
  request: (cb) => requestAnimationFrame(() => cb()),
  cancel: (h) => cancelAnimationFrame(h),
};

export class FrameBatcher<T> {
  private pending: T[] = [];
  private frame: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly flushFn: (batch: T[]) => void,
    private readonly clock: FrameClock = browserClock,
    /** Longest a batch waits when frames do not come (hidden tab). */
    private readonly maxWaitMs = 250,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  push(item: T): void {
    this.pending.push(item);
    this.schedule();
  }

  pushAll(items: readonly T[]): void {
    for (const i of items) this.pending.push(i);
    if (items.length > 0) this.schedule();
  }

  private schedule(): void {
    if (this.frame !== null) return;
    this.frame = this.clock.request(() => this.flush());
    if (this.maxWaitMs > 0) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
  }

  /** Runs the flush now (also called by the frame or the timer). */
  flush(): void {
    if (this.frame !== null) this.clock.cancel(this.frame);
    if (this.timer !== null) clearTimeout(this.timer);
    this.frame = null;
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushFn(batch);
  }

  dispose(): void {
    if (this.frame !== null) this.clock.cancel(this.frame);
    if (this.timer !== null) clearTimeout(this.timer);
    this.frame = null;
    this.timer = null;
    this.pending = [];
  }
}
