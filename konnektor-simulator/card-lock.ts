/**
 * One signing at a time per card: a real eHBA computes one signature after the other, so two SignDocument calls for
 * the same card do not overlap in time. Calls for different cards (keys) run side by side.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after everything queued before it under `key`; a failing `fn` does not block the ones after it. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    try {
      await before;
      return await fn();
    } finally {
      release();
      // The last one in line leaves no entry behind.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
