package dev.orders.peer.config;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/** The saga's settings, bound from application.yml (which maps the service's environment variables). */
@ConfigurationProperties(prefix = "orders")
public record OrdersProperties(Topics topics, Duration paymentTimeout, Jwt jwt) {
  public record Topics(String orderEvents, String paymentEvents, String paymentDeadLetters) {}

  public record Jwt(String secret, String issuer, String audience) {}
}
