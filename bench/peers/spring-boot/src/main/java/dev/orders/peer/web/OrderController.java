package dev.orders.peer.web;

import dev.orders.peer.order.Item;
import dev.orders.peer.order.OrderSaga;
import dev.orders.peer.order.OrderStatus;
import dev.orders.peer.order.OrderView;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.net.URI;
import java.util.List;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.validation.annotation.Validated;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/** The REST API of docs/openapi.yaml. The caller is the JWT's subject; a user sees only their own orders. */
@RestController
@RequestMapping("/api/v1/orders")
@Validated
public class OrderController {
  /** Unknown fields (status, total, userId, ...) are ignored, as in the Node service. */
  public record NewOrderRequest(
      @NotEmpty @Size(max = 100) List<@Valid @NotNull Item> items,
      @NotNull @Pattern(regexp = "^[A-Z]{3}$") String currency) {}

  public record OrderPage(List<OrderView> rows, int page, int pageSize, long total, int totalPages) {}

  private final OrderSaga saga;

  public OrderController(OrderSaga saga) {
    this.saga = saga;
  }

  @PostMapping
  public ResponseEntity<OrderView> place(
      @AuthenticationPrincipal Jwt caller,
      @RequestHeader(name = "Idempotency-Key", required = false) @Pattern(regexp = "^[A-Za-z0-9._:-]{1,128}$")
          String idempotencyKey,
      @RequestHeader(name = "X-Request-Id", required = false) @Pattern(regexp = "^[A-Za-z0-9._-]{1,64}$")
          String requestId,
      @Valid @RequestBody NewOrderRequest body) {
    String correlationId = requestId != null ? requestId : UUID.randomUUID().toString();
    var placed =
        saga.place(
            caller.getSubject(),
            idempotencyKey,
            correlationId,
            new OrderSaga.NewOrder(body.items(), body.currency()));
    if (placed.replayed())
      return ResponseEntity.ok().header("Idempotent-Replayed", "true").body(placed.order());
    return ResponseEntity.accepted()
        .location(URI.create("/api/v1/orders/" + placed.order().id()))
        .body(placed.order());
  }

  @GetMapping("/{id}")
  public OrderView get(@AuthenticationPrincipal Jwt caller, @PathVariable @Size(max = 64) String id) {
    return saga.get(caller.getSubject(), id)
        .orElseThrow(() -> new ResponseStatusException(HttpStatus.NOT_FOUND, "No such order"));
  }

  @GetMapping
  public OrderPage list(
      @AuthenticationPrincipal Jwt caller,
      @RequestParam(defaultValue = "1") @Min(1) int page,
      @RequestParam(defaultValue = "20") @Min(1) @Max(100) int pageSize,
      @RequestParam(required = false) OrderStatus status) {
    var found = saga.list(caller.getSubject(), status, page, pageSize);
    return new OrderPage(found.getContent(), page, pageSize, found.getTotalElements(), found.getTotalPages());
  }

  @PostMapping("/{id}/cancel")
  public OrderView cancel(@AuthenticationPrincipal Jwt caller, @PathVariable @Size(max = 64) String id) {
    return saga.cancelByOwner(caller.getSubject(), id);
  }
}
