package dev.orders.peer.clients;

import dev.orders.peer.order.Item;
import java.util.List;
import org.springframework.cloud.openfeign.FeignClient;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;

@FeignClient(name = "inventory", url = "${orders.clients.inventory-url}")
public interface InventoryClient {
  record Line(String productId, int quantity) {}

  record ReservationRequest(String reservationId, List<Line> items) {
    public static ReservationRequest of(String orderId, List<Item> items) {
      return new ReservationRequest(orderId, items.stream().map(i -> new Line(i.productId(), i.quantity())).toList());
    }
  }

  record Reservation(String reservationId, String status) {}

  @PostMapping("/reservations")
  Reservation reserve(@RequestBody ReservationRequest request);

  @DeleteMapping("/reservations/{id}")
  Reservation release(@PathVariable("id") String reservationId);
}
