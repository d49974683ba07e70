package dev.orders.peer.messaging;

import dev.orders.peer.order.Order;
import dev.orders.peer.order.OrderRepository;
import dev.orders.peer.order.OutboxEntry;
import java.util.List;
import org.springframework.dao.OptimisticLockingFailureException;
import org.springframework.data.mongodb.core.MongoTemplate;
import org.springframework.data.mongodb.core.query.Criteria;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.data.mongodb.core.query.Update;
import org.springframework.stereotype.Component;

/** Takes published events out of an order's outbox with a version-guarded write. */
@Component
public class OutboxMarks {
  private final MongoTemplate mongo;
  private final OrderRepository orders;

  public OutboxMarks(MongoTemplate mongo, OrderRepository orders) {
    this.mongo = mongo;
    this.orders = orders;
  }

  public void markSent(String orderId, Long version, List<OutboxEntry> outbox, List<String> sentIds) {
    // The common case, one write: the order is still at the version whose outbox was sent.
    var remaining = outbox.stream().filter(e -> !sentIds.contains(e.eventId())).toList();
    var guarded = Query.query(Criteria.where("_id").is(orderId).and("version").is(version));
    var update =
        new Update().set("outbox", remaining).set("outboxPending", remaining.size()).inc("version", 1);
    if (mongo.updateFirst(guarded, update, Order.class).getModifiedCount() == 1) return;
    // It changed meanwhile (a payment result, a cancel): read it again and retry.
    for (int attempt = 0; attempt < 5; attempt++) {
      Order order = orders.findById(orderId).orElse(null);
      if (order == null) return;
      order.sent(sentIds);
      try {
        orders.save(order);
        return;
      } catch (OptimisticLockingFailureException conflict) {
        // another writer won: read again
      }
    }
  }
}
