package dev.orders.peer.order;

import dev.orders.peer.clients.DependencyUnavailable;
import dev.orders.peer.clients.StockReservations;
import dev.orders.peer.clients.UserDirectory;
import dev.orders.peer.config.OrdersProperties;
import dev.orders.peer.messaging.OrderEvents;
import dev.orders.peer.messaging.OutboxRelay;
import dev.orders.peer.messaging.PaymentEvent;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.web.server.ResponseStatusException;

/**
 * The order saga: place (user check, stock reservation, the order PENDING with its OrderCreated in
 * one write), then confirm on payment, or compensate (release stock, CANCELLED) on a failed
 * payment, a passed deadline or the owner's cancel. A payment for a cancelled order is refunded.
 */
@Service
public class OrderSaga {
  private static final Logger log = LoggerFactory.getLogger(OrderSaga.class);

  public record Placed(OrderView order, boolean replayed) {}

  public record NewOrder(List<Item> items, String currency) {}

  /** A payment message the saga cannot apply: it goes to the dead-letter topic. */
  public static class Unprocessable extends RuntimeException {
    public Unprocessable(String reason) {
      super(reason);
    }
  }

  private final OrderRepository orders;
  private final OrderLocks locks;
  private final UserDirectory users;
  private final StockReservations stock;
  private final OrderEvents events;
  private final OutboxRelay relay;
  private final Duration paymentTimeout;

  public OrderSaga(
      OrderRepository orders,
      OrderLocks locks,
      UserDirectory users,
      StockReservations stock,
      OrderEvents events,
      OutboxRelay relay,
      OrdersProperties properties) {
    this.orders = orders;
    this.locks = locks;
    this.users = users;
    this.stock = stock;
    this.events = events;
    this.relay = relay;
    this.paymentTimeout = properties.paymentTimeout();
  }

  private static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MILLIS);
  }

  public Placed place(String userId, String idempotencyKey, String correlationId, NewOrder request) {
    String hash = requestHash(request);
    String id = idempotencyKey == null ? UUID.randomUUID().toString() : orderIdFor(userId, idempotencyKey);
    if (idempotencyKey != null) {
      Optional<Placed> replay = orders.findById(id).map(existing -> replay(existing, hash));
      if (replay.isPresent()) return replay.get();
    }
    UserDirectory.Check user = users.check(userId);
    if (user == UserDirectory.Check.REFUSED)
      throw new ResponseStatusException(HttpStatus.FORBIDDEN, "User may not place orders");
    try {
      stock.reserve(id, request.items());
    } catch (DependencyUnavailable down) {
      releaseQuietly(id); // a reservation may have landed before the failure
      throw down;
    }
    Instant now = now();
    Order order =
        Order.pending(
            id,
            userId,
            request.items(),
            request.currency(),
            user == UserDirectory.Check.VERIFIED,
            idempotencyKey,
            hash,
            now.plus(paymentTimeout),
            correlationId,
            now);
    order.append(
        events.entry(
            "OrderCreated",
            id,
            new OrderEvents.Created(
                userId, order.items, order.total, order.currency, order.paymentDeadline.toString()),
            correlationId,
            null));
    Order saved;
    try {
      saved = orders.insert(order);
    } catch (DuplicateKeyException concurrentReplay) {
      return orders.findById(id).map(existing -> replay(existing, hash)).orElseThrow();
    } catch (RuntimeException storeDown) {
      releaseQuietly(id);
      throw storeDown;
    }
    OrderView view = saved.view();
    relay.publish(saved);
    return new Placed(view, false);
  }

  private Placed replay(Order existing, String hash) {
    if (!existing.getRequestHash().equals(hash))
      throw new ResponseStatusException(
          HttpStatus.UNPROCESSABLE_ENTITY, "Idempotency-Key reused with a different request");
    return new Placed(existing.view(), true);
  }

  /** By {@code _id} alone, the owner checked here: FerretDB scans for {@code {_id, userId}}. */
  public Optional<OrderView> get(String userId, String id) {
    return orders.findById(id).filter(o -> o.getUserId().equals(userId)).map(Order::view);
  }

  public Page<OrderView> list(String userId, OrderStatus status, int page, int pageSize) {
    var pageable = PageRequest.of(page - 1, pageSize, Sort.by(Sort.Direction.DESC, "createdAt"));
    var found =
        status == null
            ? orders.findByUserId(userId, pageable)
            : orders.findByUserIdAndStatus(userId, status, pageable);
    return found.map(Order::view);
  }

  public OrderView cancelByOwner(String userId, String id) {
    Order after =
        change(
            id,
            order -> {
              if (!order.getUserId().equals(userId))
                throw new ResponseStatusException(HttpStatus.NOT_FOUND, "No such order");
              if (order.getStatus() != OrderStatus.PENDING)
                throw new ResponseStatusException(HttpStatus.CONFLICT, "Only a PENDING order can be cancelled");
              cancel(order, "owner-cancelled");
              return true;
            });
    if (after == null) throw new ResponseStatusException(HttpStatus.NOT_FOUND, "No such order");
    return after.view();
  }

  public void onPayment(PaymentEvent event, String correlationId) {
    Order after =
        change(
            event.orderId(),
            order -> {
              if (order.seen(event.eventId())) return false;
              var p = event.payload();
              boolean changed =
                  switch (event.type()) {
                    case "PaymentSucceeded" -> {
                      if (p.paymentId() == null) throw new Unprocessable("PaymentSucceeded without paymentId");
                      if (p.amount() != order.getTotal() || !p.currency().equals(order.getCurrency()))
                        throw new Unprocessable("amount-mismatch");
                      if (order.getStatus() == OrderStatus.PENDING) {
                        order.confirm(p.paymentId(), now());
                        order.append(
                            events.entry(
                                "OrderConfirmed",
                                order.getId(),
                                new OrderEvents.Confirmed(
                                    order.getUserId(), p.paymentId(), order.getTotal(), order.getCurrency()),
                                correlationId,
                                null));
                        yield true;
                      }
                      if (order.getStatus() == OrderStatus.CANCELLED && order.getRefund() == null) {
                        // Money for an order already given up on: give it back, never confirm.
                        order.requestRefund(p.paymentId(), now());
                        order.append(
                            events.entry(
                                "RefundRequested",
                                order.getId(),
                                new OrderEvents.RefundRequested(
                                    order.getUserId(),
                                    p.paymentId(),
                                    p.amount(),
                                    p.currency(),
                                    "payment after cancellation (" + order.getReason() + ")"),
                                correlationId,
                                null));
                        yield true;
                      }
                      yield false;
                    }
                    case "PaymentFailed" -> {
                      if (order.getStatus() != OrderStatus.PENDING) yield false;
                      cancel(order, "payment-failed");
                      yield true;
                    }
                    case "PaymentRefunded" -> {
                      if (order.getRefund() == null || order.getRefund().completedAt() != null) yield false;
                      order.refundCompleted(now());
                      yield true;
                    }
                    default -> throw new Unprocessable("unknown event type " + event.type());
                  };
              if (changed) order.remember(event.eventId());
              return changed;
            });
    if (after == null) throw new Unprocessable("unknown-order");
  }

  /** The payment deadline passed: compensate. Called by the sweep. */
  public void expire(String id) {
    change(
        id,
        order -> {
          if (order.getStatus() != OrderStatus.PENDING || order.paymentDeadline.isAfter(now())) return false;
          cancel(order, "payment-deadline");
          return true;
        });
  }

  /** Releases the stock of a cancelled order; left held (for the next sweep) if the Inventory service is down. */
  public void releaseStock(String id) {
    try {
      stock.release(id);
    } catch (DependencyUnavailable down) {
      log.warn("stock of order {} not released yet: {}", id, down.toString());
      return;
    }
    change(
        id,
        order -> {
          if (!order.isStockHeld()) return false;
          order.stockReleased(now());
          return true;
        });
  }

  public void republish(Order order) {
    relay.publish(order);
  }

  private void cancel(Order order, String reason) {
    order.cancel(reason, now());
    order.append(
        events.entry(
            "OrderCancelled",
            order.getId(),
            new OrderEvents.Cancelled(order.getUserId(), reason),
            order.correlationId,
            null));
  }

  /**
   * Read, change and write under the order's lock, so no other writer of this instance comes in
   * between (the write is by {@code _id}: {@link OrderLocks}). Publishes the outbox and releases
   * stock after a write that asked for it, outside the lock. Null when there is no such order.
   */
  private Order change(String id, Function<Order, Boolean> mutation) {
    Outcome outcome =
        locks.withLock(
            id,
            () -> {
              Order order = orders.findById(id).orElse(null);
              if (order == null || !mutation.apply(order)) return new Outcome(order, false);
              order.changed();
              return new Outcome(orders.save(order), true);
            });
    Order order = outcome.order();
    if (!outcome.written()) return order;
    relay.publish(order);
    if (order.getStatus() == OrderStatus.CANCELLED && order.isStockHeld()) releaseStock(id);
    return order;
  }

  private record Outcome(Order order, boolean written) {}

  private void releaseQuietly(String id) {
    try {
      stock.release(id);
    } catch (RuntimeException e) {
      log.warn("reservation {} left to the Inventory service's expiry: {}", id, e.toString());
    }
  }

  /** The same derivation as the Node service: one order per (user, Idempotency-Key). */
  static String orderIdFor(String userId, String key) {
    String h = HexFormat.of().formatHex(sha256(userId + "\u0000" + key));
    return h.substring(0, 8)
        + "-"
        + h.substring(8, 12)
        + "-5"
        + h.substring(13, 16)
        + "-a"
        + h.substring(17, 20)
        + "-"
        + h.substring(20, 32);
  }

  private static String requestHash(NewOrder request) {
    var canonical = new StringBuilder(request.currency());
    for (Item i : request.items())
      canonical.append('|').append(i.productId()).append(':').append(i.quantity()).append(':').append(i.unitPrice());
    return HexFormat.of().formatHex(sha256(canonical.toString()));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
