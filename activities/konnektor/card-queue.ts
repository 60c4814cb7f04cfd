/**
 * One SignDocument at a time per eHBA from this process (gemILF_PS: calls to one card are serialised by the client;
 * the Konnektor answers a busy card with 4060/4093 or queues, and neither may be relied on). The eHBA's signer may
 * prepare its next call (documents read, request built, job number fetched) while the card still signs the current
 * one; that call then waits here and goes out the moment the card has answered, so the card does not wait for
 * signflow between two calls.
 */
export class CardQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `send` after every call queued before it for `card`; a failing call does not block the ones after it. */
  async run<T>(card: string, send: () => Promise<T>): Promise<T> {
    const before = this.tails.get(card) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(card, tail);
    try {
      await before;
      return await send();
    } finally {
      release();
      // The last one in line leaves no entry behind.
      if (this.tails.get(card) === tail) this.tails.delete(card);
    }
  }
}
