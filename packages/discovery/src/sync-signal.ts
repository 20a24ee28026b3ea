/** A one-way flag a cluster source raises once its first full read is in, and waits on. */
export class SyncSignal {
  private done = false;
  private readonly waiters: Array<() => void> = [];

  get synced(): boolean {
    return this.done;
  }

  /** The first read is in: every waiter resolves true. Later calls change nothing. */
  raise(): void {
    this.done = true;
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves true once raised, false when `timeoutMs` passed first. */
  wait(timeoutMs: number): Promise<boolean> {
    if (this.done) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
