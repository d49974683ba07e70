package dev.orders.peer.clients;

import org.springframework.cloud.openfeign.FeignClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;

@FeignClient(name = "user", url = "${orders.clients.user-url}")
public interface UserClient {
  record User(String id, String name, String status) {}

  @GetMapping("/users/{id}")
  User get(@PathVariable("id") String id);
}
