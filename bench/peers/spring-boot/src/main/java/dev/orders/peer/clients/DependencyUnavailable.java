package dev.orders.peer.clients;

/** A dependency failed after its retries, or its circuit is open. */
public class DependencyUnavailable extends RuntimeException {
  public DependencyUnavailable(String dependency, Throwable cause) {
    super(dependency + " unavailable", cause);
  }
}
