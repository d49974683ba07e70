package dev.orders.peer.order;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.springframework.data.annotation.Id;
import org.springframework.data.mongodb.core.mapping.Document;

/**
 * The order aggregate, stored as one document together with its outbox: the state change and the
 * events it causes are one write. {@code version} is the API's (1 when placed, +1 per change);
 * it is not Spring Data's {@code @Version}, whose save filters on {@code _id} and the version, a
 * collection scan on FerretDB: writes are serialized by {@link OrderLocks} instead.
 */
@Document("orders")
public class Order {
  /** Payment event ids remembered for duplicate detection. */
  static final int SEEN_EVENT_IDS = 32;

  @Id String id;
  String userId;
  List<Item> items;
  long total;
  String currency;
  OrderStatus status;
  String reason;
  long version;
  List<Transition> history = new ArrayList<>();
  boolean userVerified;
  String idempotencyKey;
  String requestHash;
  Instant paymentDeadline;
  String paymentId;
  boolean stockHeld;
  Refund refund;
  List<OutboxEntry> outbox = new ArrayList<>();
  List<String> seenEventIds = new ArrayList<>();
  String correlationId;
  Instant createdAt;
  Instant updatedAt;

  protected Order() {}

  static Order pending(
      String id,
      String userId,
      List<Item> items,
      String currency,
      boolean userVerified,
      String idempotencyKey,
      String requestHash,
      Instant paymentDeadline,
      String correlationId,
      Instant now) {
    Order o = new Order();
    o.id = id;
    o.userId = userId;
    o.items = List.copyOf(items);
    o.total = items.stream().mapToLong(i -> i.unitPrice() * i.quantity()).sum();
    o.currency = currency;
    o.status = OrderStatus.PENDING;
    o.version = 1;
    o.userVerified = userVerified;
    o.idempotencyKey = idempotencyKey;
    o.requestHash = requestHash;
    o.paymentDeadline = paymentDeadline;
    o.stockHeld = true;
    o.correlationId = correlationId;
    o.createdAt = now;
    o.updatedAt = now;
    o.history.add(new Transition(null, OrderStatus.PENDING, now, null));
    return o;
  }

  void confirm(String paymentId, Instant now) {
    this.paymentId = paymentId;
    moveTo(OrderStatus.CONFIRMED, null, now);
  }

  void cancel(String reason, Instant now) {
    this.reason = reason;
    moveTo(OrderStatus.CANCELLED, reason, now);
  }

  private void moveTo(OrderStatus to, String why, Instant now) {
    history.add(new Transition(status, to, now, why));
    status = to;
    updatedAt = now;
  }

  void requestRefund(String paymentId, Instant now) {
    refund = new Refund(paymentId, now, null);
    updatedAt = now;
  }

  void refundCompleted(Instant now) {
    refund = new Refund(refund.paymentId(), refund.requestedAt(), now);
    updatedAt = now;
  }

  void stockReleased(Instant now) {
    stockHeld = false;
    updatedAt = now;
  }

  void append(OutboxEntry entry) {
    outbox.add(entry);
  }

  /** A state change was applied: the next version. */
  void changed() {
    version++;
  }

  boolean seen(String eventId) {
    return seenEventIds.contains(eventId);
  }

  void remember(String eventId) {
    seenEventIds.add(eventId);
    if (seenEventIds.size() > SEEN_EVENT_IDS) seenEventIds.remove(0);
  }

  public String getId() {
    return id;
  }

  public String getUserId() {
    return userId;
  }

  public OrderStatus getStatus() {
    return status;
  }

  public long getTotal() {
    return total;
  }

  public String getCurrency() {
    return currency;
  }

  public boolean isStockHeld() {
    return stockHeld;
  }

  public Refund getRefund() {
    return refund;
  }

  public String getReason() {
    return reason;
  }

  public List<OutboxEntry> getOutbox() {
    return List.copyOf(outbox);
  }

  public String getRequestHash() {
    return requestHash;
  }

  /** What a client may see: no outbox, no bookkeeping. */
  public OrderView view() {
    return new OrderView(
        id,
        userId,
        items,
        total,
        currency,
        status,
        reason,
        version,
        List.copyOf(history),
        userVerified,
        paymentDeadline,
        createdAt,
        updatedAt);
  }
}
