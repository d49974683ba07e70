package dev.orders.peer.order;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

public record Item(
    @NotNull @Size(min = 1, max = 64) @Pattern(regexp = "^[A-Za-z0-9._:-]+$") String productId,
    @NotNull @Min(1) @Max(1000) Integer quantity,
    @NotNull @Min(0) @Max(100_000_000) Long unitPrice) {}
