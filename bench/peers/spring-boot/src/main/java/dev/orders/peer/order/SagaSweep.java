package dev.orders.peer.order;

import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.mongodb.core.MongoTemplate;
import org.springframework.data.mongodb.core.query.Criteria;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * One scheduled query finds what needs a push: PENDING orders past their payment deadline, outbox
 * events not published (a send failed, the process died), cancelled orders still holding stock.
 */
@Component
public class SagaSweep {
  private static final Logger log = LoggerFactory.getLogger(SagaSweep.class);
  /** Younger work is still in the hands of the request or listener that did it. */
  private static final Duration GRACE = Duration.ofSeconds(5);
  private static final int BATCH = 500;

  private final MongoTemplate mongo;
  private final OrderSaga saga;

  public SagaSweep(MongoTemplate mongo, OrderSaga saga) {
    this.mongo = mongo;
    this.saga = saga;
  }

  @Scheduled(fixedDelayString = "${orders.sweep-interval}", initialDelayString = "${orders.sweep-interval}")
  public void sweep() {
    Instant now = Instant.now();
    Instant settled = now.minus(GRACE);
    var due =
        new Criteria()
            .orOperator(
                Criteria.where("status").is(OrderStatus.PENDING).and("paymentDeadline").lt(now),
                Criteria.where("outbox.0").exists(true).and("updatedAt").lt(settled),
                Criteria.where("status").is(OrderStatus.CANCELLED).and("stockHeld").is(true).and("updatedAt").lt(settled));
    for (Order order : mongo.find(Query.query(due).limit(BATCH), Order.class)) {
      try {
        if (order.status == OrderStatus.PENDING && order.paymentDeadline.isBefore(now)) saga.expire(order.id);
        else if (order.status == OrderStatus.CANCELLED && order.stockHeld) saga.releaseStock(order.id);
        else saga.republish(order);
      } catch (RuntimeException e) {
        log.warn("sweep: order {} left for the next round: {}", order.id, e.toString());
      }
    }
  }
}
