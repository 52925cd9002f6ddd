#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H
// Debian installs the headers under /usr/include/librdkafka/.
#include <librdkafka/rdkafka.h>
// The mock-cluster API must come after rdkafka.h (the header enforces this).
#include <librdkafka/rdkafka_mock.h>

// Swift cannot call C variadic functions such as rd_kafka_producev, so this
// non-variadic helper builds the argument list (with a cached topic handle). The payload is copied
// (RD_KAFKA_MSG_F_COPY); on success librdkafka takes ownership of `headers`.
static inline rd_kafka_resp_err_t cdp_rdk_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt,
                                                  int32_t partition,
                                                  const void *key, size_t key_len,
                                                  const void *value, size_t value_len,
                                                  rd_kafka_headers_t *headers,
                                                  int64_t timestamp_ms,
                                                  void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END);
}

#endif
