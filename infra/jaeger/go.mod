module orderservice/jaeger-launcher

go 1.22

require github.com/jaegertracing/jaeger v1.57.0

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
