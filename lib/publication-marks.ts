// Publication marks waiting to be written. Once the relay has an order's events on Kafka they are
// removed from its outbox, which is one more write per order: the mark rides on the order's next
// write when one comes within `delayMs` (a payment answer usually does) and is written alone
// otherwise. Until then a restarted relay may publish them again; consumers drop duplicates by
// eventId.
import type { OutboxEntry } from "./order-record";

interface Pending {
  eventIds: Set<string>;
  publishedAt: string;
  timer: NodeJS.Timeout;
}

export class PublicationMarks {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly delayMs: number,
    private readonly flush: (orderId: string) => void,
  ) {}

  add(orderId: string, eventIds: string[], publishedAt: string): void {
    const known = this.pending.get(orderId);
    if (known) {
      for (const id of eventIds) known.eventIds.add(id);
      return;
    }
    this.pending.set(orderId, { eventIds: new Set(eventIds), publishedAt, timer: this.schedule(orderId) });
  }

  has(orderId: string): boolean {
    return this.pending.has(orderId);
  }

  ids(): string[] {
    return [...this.pending.keys()];
  }

  /** The outbox about to be written without the events already on Kafka, and when they got there. */
  apply(orderId: string, outbox: OutboxEntry[]): { outbox: OutboxEntry[]; publishedAt?: string } {
    const marks = this.pending.get(orderId);
    if (!marks) return { outbox };
    return {
      outbox: outbox.filter((e) => !marks.eventIds.has(e.event.eventId)),
      publishedAt: marks.publishedAt,
    };
  }

  /** After a write landed: the marks it carried are done (a lost race keeps them). */
  settle(orderId: string, written: OutboxEntry[]): void {
    const marks = this.pending.get(orderId);
    if (!marks) return;
    const left = new Set(written.map((e) => e.event.eventId));
    for (const id of marks.eventIds) if (!left.has(id)) marks.eventIds.delete(id);
    if (marks.eventIds.size === 0) this.drop(orderId);
  }

  /** A flush ended: keep what is left for another try (if asked), or forget it. */
  afterFlush(orderId: string, retry: boolean): void {
    const marks = this.pending.get(orderId);
    if (!marks) return;
    clearTimeout(marks.timer);
    if (retry && marks.eventIds.size > 0) marks.timer = this.schedule(orderId);
    else this.pending.delete(orderId);
  }

  drop(orderId: string): void {
    const marks = this.pending.get(orderId);
    if (marks) clearTimeout(marks.timer);
    this.pending.delete(orderId);
  }

  stopTimers(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
  }

  private schedule(orderId: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.flush(orderId), this.delayMs);
    timer.unref();
    return timer;
  }
}
