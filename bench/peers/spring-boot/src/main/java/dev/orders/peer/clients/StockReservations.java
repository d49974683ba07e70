package dev.orders.peer.clients;

import dev.orders.peer.order.Item;
import feign.FeignException;
import io.github.resilience4j.circuitbreaker.annotation.CircuitBreaker;
import io.github.resilience4j.retry.annotation.Retry;
import java.util.List;
import org.springframework.stereotype.Service;

/**
 * The Inventory service behind Resilience4j. Reservations are keyed by the order id, so a retried
 * reserve or release is applied once. Fallback rule: no order without stock, the caller gets 503.
 */
@Service
public class StockReservations {
  public static class InsufficientStock extends RuntimeException {
    public InsufficientStock() {
      super("Insufficient stock");
    }
  }

  private final InventoryClient client;

  public StockReservations(InventoryClient client) {
    this.client = client;
  }

  @CircuitBreaker(name = "inventory")
  @Retry(name = "inventory", fallbackMethod = "unavailable")
  public void reserve(String orderId, List<Item> items) {
    try {
      client.reserve(InventoryClient.ReservationRequest.of(orderId, items));
    } catch (FeignException.Conflict conflict) {
      throw new InsufficientStock();
    }
  }

  @CircuitBreaker(name = "inventory")
  @Retry(name = "inventory", fallbackMethod = "unavailable")
  public void release(String orderId) {
    try {
      client.release(orderId);
    } catch (FeignException.NotFound never) {
      // nothing reserved under this id: nothing to give back
    }
  }

  void unavailable(String orderId, List<Item> items, Throwable cause) {
    unavailable(orderId, cause);
  }

  void unavailable(String orderId, Throwable cause) {
    if (cause instanceof RuntimeException business && !(cause instanceof FeignException)
        && !(cause instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException))
      throw business;
    if (cause instanceof FeignException.FeignClientException clientError) throw clientError;
    throw new DependencyUnavailable("inventory", cause);
  }
}
