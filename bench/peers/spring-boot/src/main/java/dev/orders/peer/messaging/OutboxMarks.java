package dev.orders.peer.messaging;

import dev.orders.peer.order.Order;
import dev.orders.peer.order.OrderLocks;
import dev.orders.peer.order.OutboxEntry;
import java.util.List;
import org.springframework.data.mongodb.core.MongoTemplate;
import org.springframework.data.mongodb.core.query.Criteria;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.data.mongodb.core.query.Update;
import org.springframework.stereotype.Component;

/**
 * Takes published events out of an order's outbox: one update by {@code _id} that pulls exactly
 * those entries, without reading the order and without touching its version (a publication mark
 * is no change a client sees, and it must not make the payment listener's next write stale).
 * Under the order's lock all the same: FerretDB's update is a read and a write of the whole
 * document, so a mark beside the listener's write could bring back the order before it.
 * {@code $pullAll} of the exact entries, since FerretDB 1.24 ignores a {@code $pull} with a
 * condition (it modifies nothing, without an error).
 */
@Component
public class OutboxMarks {
  private final MongoTemplate mongo;
  private final OrderLocks locks;

  public OutboxMarks(MongoTemplate mongo, OrderLocks locks) {
    this.mongo = mongo;
    this.locks = locks;
  }

  public void markSent(String orderId, List<OutboxEntry> sent) {
    var byId = Query.query(Criteria.where("_id").is(orderId));
    var update = new Update().pullAll("outbox", sent.toArray());
    locks.withLock(orderId, () -> mongo.updateFirst(byId, update, Order.class));
  }
}
