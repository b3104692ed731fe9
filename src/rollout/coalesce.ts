// Services that roll out together on one host ask the host the same questions at about the same time
// (which containers does my service have, are they healthy yet) and start their new containers at
// about the same time. Each question is an SSH exec and each `docker compose` call parses the whole
// project on the host (0.5–1 s of CPU): ten services asking one by one cost ten times that. A
// Coalescer gathers the calls of one kind made close together and answers them with one command.

/** How a Coalescer gathers calls: see `Coalescer`. */
export interface CoalesceOptions {
  /** How long the first call of a batch waits for others to join it, in ms (≥ 0). */
  windowMs: number;
  /**
   * true: at most one command in flight; calls made meanwhile form the next batch (cheap reads:
   * answers stay fresh and the host sees one poll at a time). false: a batch starts once its window
   * ends, whatever else runs (commands that take long, such as `compose up`).
   */
  oneInFlight: boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers `call(item)`s into batches and runs `run(items)` once per batch; each call settles with its
 * item's entry of the batch's result (same index), or with the batch's error (every call of a batch
 * that throws rejects with that error). `run` must return one entry per item, or the calls reject
 * with a RangeError.
 */
export class Coalescer<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #options: CoalesceOptions;
  #queue: Pending<I, O>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = false;

  constructor(run: (items: I[]) => Promise<O[]>, options: CoalesceOptions) {
    this.#run = run;
    this.#options = options;
  }

  /** Adds `item` to the batch being gathered; resolves with its answer. */
  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    if (this.#options.oneInFlight && this.#inFlight) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, this.#options.windowMs);
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    this.#inFlight = true;
    try {
      const results = await this.#run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) {
        throw new RangeError(`a batch of ${batch.length} calls got ${results.length} answers`);
      }
      batch.forEach((pending, index) => {
        pending.resolve(results[index] as O);
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.#inFlight = false;
      this.#schedule();
    }
  }
}
