package dev.orders.peer.messaging;

import dev.orders.peer.config.OrdersProperties;
import dev.orders.peer.order.OrderSaga;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.listener.DeadLetterPublishingRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.util.backoff.ExponentialBackOff;

/** Retries transient failures of the listener with backoff; poison messages go to the dead-letter topic. */
@Configuration
public class KafkaConfig {

  @Bean
  DefaultErrorHandler errorHandler(KafkaTemplate<String, String> template, OrdersProperties properties) {
    var recoverer =
        new DeadLetterPublishingRecoverer(
            template, (record, err) -> new TopicPartition(properties.topics().paymentDeadLetters(), -1));
    // The headers of docs/asyncapi.yaml's DeadLetter message, beside Spring's own kafka_dlt-* ones.
    recoverer.setHeadersFunction(
        (record, err) -> {
          var headers = new RecordHeaders();
          Throwable cause = err.getCause() != null ? err.getCause() : err;
          headers.add("dlq-reason", bytes(String.valueOf(cause.getMessage())));
          headers.add("dlq-source-topic", bytes(record.topic()));
          headers.add("dlq-source-partition", bytes(String.valueOf(record.partition())));
          headers.add("dlq-source-offset", bytes(String.valueOf(record.offset())));
          return headers;
        });
    var backOff = new ExponentialBackOff(100, 2);
    backOff.setMaxInterval(5_000);
    backOff.setMaxElapsedTime(60_000);
    var handler = new DefaultErrorHandler(recoverer, backOff);
    handler.addNotRetryableExceptions(OrderSaga.Unprocessable.class);
    return handler;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
