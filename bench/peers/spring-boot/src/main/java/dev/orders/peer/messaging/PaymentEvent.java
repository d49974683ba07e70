package dev.orders.peer.messaging;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/** A message of payments.events (PaymentSucceeded, PaymentFailed, PaymentRefunded). */
public record PaymentEvent(
    @NotBlank @Size(max = 64) String eventId,
    @NotNull @Pattern(regexp = "PaymentSucceeded|PaymentFailed|PaymentRefunded") String type,
    @NotNull @Min(1) Integer version,
    @NotBlank @Size(max = 40) String occurredAt,
    @NotBlank @Size(max = 64) String orderId,
    @NotNull @Valid Payload payload) {

  public record Payload(
      @Size(min = 1, max = 64) String paymentId,
      @NotNull @Min(0) Long amount,
      @NotNull @Pattern(regexp = "^[A-Z]{3}$") String currency,
      @Size(min = 1, max = 200) String reason) {}
}
