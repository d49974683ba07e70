package dev.orders.peer.order;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.springframework.stereotype.Component;

/**
 * One writer at a time per order inside this instance: the payment listener, the owner's cancel,
 * the sweep and the relay's publication marks each read, change and write an order under its
 * lock. The store cannot do this for us: on FerretDB's SQLite backend a filter on {@code _id}
 * and {@code version} (Spring Data's {@code @Version} save) scans the whole collection and is not
 * atomic either, so writes go by {@code _id} alone (docs/infra.md). Striped: a fixed set of locks,
 * two orders rarely share one, and nothing grows with the orders.
 */
@Component
public class OrderLocks {
  private static final int STRIPES = 256;
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

  public OrderLocks() {
    for (int i = 0; i < STRIPES; i++) stripes[i] = new ReentrantLock();
  }

  public <T> T withLock(String orderId, Supplier<T> work) {
    ReentrantLock lock = stripes[Math.floorMod(orderId.hashCode(), STRIPES)];
    lock.lock();
    try {
      return work.get();
    } finally {
      lock.unlock();
    }
  }
}
