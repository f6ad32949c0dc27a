// Coalesces work to one run per animation frame: the stream may deliver hundreds of
// events between two frames; the store and the views see them as one batch.
//
// A frame folds at most `maxPerFrame` items (a per-frame work budget): a burst (a
// reconnect catching up, a source replaying its backlog) is spread over the next
// frames instead of making one long frame. Items keep their arrival order across
// frames, so a seq-ordered stream stays seq-ordered.
//
// Hidden tabs get no animation frames, so a timer flushes too (keeping memory
// bounded); with no frame to protect it takes everything, like an explicit `flush()`.

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
  /** Items before `head` were handed out already (carry-over without copying). */
  private head = 0;
  private frame: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly flushFn: (batch: T[]) => void,
    private readonly clock: FrameClock = browserClock,
    /** Longest a batch waits when frames do not come (hidden tab). */
    private readonly maxWaitMs = 250,
    /** Most items one animation frame folds; the rest waits for the next frames. */
    private readonly maxPerFrame = Infinity,
  ) {
    if (!(maxPerFrame >= 1)) throw new RangeError(`maxPerFrame must be at least 1, not ${String(maxPerFrame)}`);
  }

  /** Items waiting (including those carried over to later frames). */
  get size(): number {
    return this.pending.length - this.head;
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
    this.frame = this.clock.request(() => this.onFrame());
    if (this.maxWaitMs > 0) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
  }

  private cancelScheduled(): void {
    if (this.frame !== null) this.clock.cancel(this.frame);
    if (this.timer !== null) clearTimeout(this.timer);
    this.frame = null;
    this.timer = null;
  }

  /** An animation frame: folds at most `maxPerFrame` items, carries the rest over. */
  private onFrame(): void {
    this.frame = null;
    // Frames are coming: the hidden-tab timer restarts with the next schedule.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const n = Math.min(this.size, this.maxPerFrame);
    if (n === 0) return;
    let batch: T[];
    if (n === this.size && this.head === 0) {
      batch = this.pending;
      this.pending = [];
    } else {
      batch = this.pending.slice(this.head, this.head + n);
      this.head += n;
      if (this.head === this.pending.length) {
        this.pending = [];
        this.head = 0;
      } else if (this.head > 4_096 && this.head * 2 > this.pending.length) {
        // Drop the consumed prefix now and then, so the array does not grow for ever.
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
    }
    // Carry-over: the next frame continues (and the hidden-tab timer bounds the wait).
    if (this.size > 0) this.schedule();
    this.flushFn(batch);
  }

  /** Runs everything waiting now, ignoring the budget (before resuming; the timer). */
  flush(): void {
    this.cancelScheduled();
    if (this.size === 0) return;
    const batch = this.head === 0 ? this.pending : this.pending.slice(this.head);
    this.pending = [];
    this.head = 0;
    this.flushFn(batch);
  }

  dispose(): void {
    this.cancelScheduled();
    this.pending = [];
    this.head = 0;
  }
}
