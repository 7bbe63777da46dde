/* SPDX-License-Identifier: MIT */
/*
 * test_amqp.c - the RabbitMQ wrapper (src/cluster/amqp.c) against a real broker
 * (WEFT_TEST_BROKER_URL, started by scripts/run-tests): URL redaction,
 * connection errors that come fast and say why, publish with confirms,
 * consume with prefetch and acks, redelivery, dead-lettering, heartbeats.
 * Every test uses queues named after its pid so tests never interfere.
 */
#include "test.h"

#include "broker.h"

#include "cluster/amqp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


/* The test broker's URL with other credentials: amqp://USER:PASS@host:port/vhost. */
static void url_with(char *buf, size_t size, const char *userpass, const char *vhost)
{
    const char *u = broker_url();
    const char *at = strchr(u, '@');
    const char *slash = strchr(at, '/');
    snprintf(buf, size, "amqp://%s@%.*s/%s", userpass, (int)(slash - at - 1), at + 1,
             vhost ? vhost : slash + 1);
}

static weft__amqp *connect_ok(bool confirms)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = broker_url(), .confirms = confirms, .name = "test_amqp"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    return c;
}

static char *qname(const char *what)
{
    char *s = malloc(128);
    snprintf(s, 128, "weft.test.%s.%d", what, (int)getpid());
    return s;
}

TEST(redact_hides_password)
{
    char buf[256];
    weft__amqp_redact("amqp://guest:secret@host:5672/%2f", buf, sizeof buf);
    ASSERT_STR_EQ(buf, "amqp://guest:***@host:5672/%2f");
    weft__amqp_redact("amqps://u:p@ss@h/v", buf, sizeof buf);
    ASSERT_STR_EQ(buf, "amqps://u:***@h/v");
    weft__amqp_redact("amqp://host:5672", buf, sizeof buf);
    ASSERT_STR_EQ(buf, "amqp://host:5672");
    weft__amqp_redact("amqp://user@host/v", buf, sizeof buf);
    ASSERT_STR_EQ(buf, "amqp://user@host/v");
    weft__amqp_redact(NULL, buf, sizeof buf);
    ASSERT_STR_EQ(buf, "(none)");
}

TEST(backoff_grows_and_caps)
{
    ASSERT_LE(weft__amqp_backoff_ms(0), 125);
    ASSERT_GE(weft__amqp_backoff_ms(0), 75);
    ASSERT_GE(weft__amqp_backoff_ms(3), 600);
    for (int i = 10; i < 40; i++) ASSERT_LE(weft__amqp_backoff_ms(i), 6250);
}

TEST(refused_port_fails_fast)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = "amqp://guest:guest@127.0.0.1:1/%2f"};
    weft__amqp *c = NULL;
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EBROKER);
    ASSERT(c == NULL);
    ASSERT_STR_EQ(err, "cannot connect to broker 127.0.0.1:1: Connection refused");
    ASSERT_LT(weft__mono_ns() - t0, 3000000000LL);
}

TEST(silent_server_times_out)
{
    /* A listening socket that never answers the AMQP handshake. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(s, 4), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    char url[128];
    snprintf(url, sizeof url, "amqp://guest:guest@127.0.0.1:%d/%%2f", ntohs(a.sin_port));
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = url, .timeout_ms = 1000};
    weft__amqp *c = NULL;
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EBROKER);
    ASSERT_LT(weft__mono_ns() - t0, 4000000000LL);
    ASSERT_CONTAINS(err, "127.0.0.1:");
    ASSERT_NOT_CONTAINS(err, "guest:guest");
    close(s);
}

TEST(refused_login_is_clear)
{
    char url[512], errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    url_with(url, sizeof url, "guest:wrong-password", NULL);
    weft__amqp_opts o = {.url = url};
    weft__amqp *c = NULL;
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EBROKER);
    ASSERT_CONTAINS(err, "broker refused login for user 'guest'");
    ASSERT_NOT_CONTAINS(err, "wrong-password");
    ASSERT_LT(weft__mono_ns() - t0, 5000000000LL);
}

TEST(unknown_vhost_is_clear)
{
    char url[512], errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    url_with(url, sizeof url, "guest:guest", "no-such-vhost");
    weft__amqp_opts o = {.url = url};
    weft__amqp *c = NULL;
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EBROKER);
    ASSERT_CONTAINS(err, "vhost 'no-such-vhost'");
}

/* The test broker's TLS listener (scripts/broker makes one with a private CA). */
static const char *tls_url(const char **ca)
{
    const char *u = getenv("WEFT_TEST_BROKER_TLS_URL");
    *ca = getenv("WEFT_TEST_BROKER_CA");
    if (!u || !*u || !*ca || !**ca)
        FAIL("WEFT_TEST_BROKER_TLS_URL / WEFT_TEST_BROKER_CA are not set: run through "
             "scripts/run-tests (scripts/broker starts a TLS listener when openssl exists)");
    return u;
}

/* amqps:// with the broker's CA: the certificate (localhost) and the host
 * name are verified, and a message makes the round trip. */
TEST(tls_with_the_brokers_ca_round_trip)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    const char *ca;
    const char *url = tls_url(&ca);
    weft__amqp_opts o = {.url = url, .ca_file = ca, .confirms = true, .name = "test_amqp_tls"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    char *q = qname("tls");
    weft__amqp_queue_opts qo = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, q, &qo, NULL, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "over tls", 8, true, 5000, err), err);
    char *tag = NULL;
    ASSERT_OK(weft__amqp_consume(c, q, false, &tag, err), err);
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    for (int i = 0; i < 10; i++) { /* a late confirm may come first */
        weft__amqp_event_release(&ev);
        ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
        if (ev.kind == WEFT__AMQP_DELIVERY) break;
    }
    ASSERT_EQ(ev.kind, WEFT__AMQP_DELIVERY);
    ASSERT_STR_EQ(ev.body, "over tls");
    ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
    weft__amqp_event_release(&ev);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    free(tag);
    free(q);
    weft__amqp_close(c);
}

/* Without the CA that signed the broker's certificate, verification fails:
 * a clear error, fast, and no password in it. */
TEST(tls_without_the_ca_is_refused)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    const char *ca;
    const char *url = tls_url(&ca);
    (void)ca;
    /* A CA file that did not sign the broker's certificate: the server's
     * own certificate (not a CA). */
    char other[4096];
    snprintf(other, sizeof other, "%s", ca);
    char *slash = strrchr(other, '/');
    ASSERT(slash != NULL);
    snprintf(slash + 1, sizeof other - (size_t)(slash + 1 - other), "server.pem");
    weft__amqp_opts o = {.url = url, .ca_file = other};
    weft__amqp *c = NULL;
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EBROKER);
    printf("    %s\n", err);
    ASSERT(c == NULL);
    ASSERT_CONTAINS(err, "localhost");
    ASSERT_NOT_CONTAINS(err, "guest:guest");
    ASSERT_LT(weft__mono_ns() - t0, 5000000000LL);
}

TEST(malformed_url)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = "http://guest:pw@host/"};
    weft__amqp *c = NULL;
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "malformed broker URL http://guest:***@host/");
    ASSERT_NOT_CONTAINS(err, ":pw@");
    o.url = "";
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_EINVAL);
}

TEST(publish_confirm_consume_ack_round_trip)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp *c = connect_ok(true);
    char *q = qname("rt");
    weft__amqp_queue_opts qo = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, q, &qo, NULL, err), err);
    enum { N = 2000, WINDOW = 256 };
    /* Publish with a window of outstanding confirms. */
    uint64_t confirmed = 0, last = 0;
    int nacks = 0;
    for (int i = 0; i < N; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"i\":%d}", i);
        ASSERT_OK(weft__amqp_publish(c, "", q, body, (size_t)n, true, &last, err), err);
        ASSERT_EQ(last, (uint64_t)i + 1);
        while (last - confirmed >= WINDOW || (i == N - 1 && confirmed < last)) {
            weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
            ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
            ASSERT_EQ(ev.kind, WEFT__AMQP_CONFIRM);
            if (ev.nack) nacks++;
            /* multiple: everything up to the tag; otherwise confirms of a
             * single queue arrive in order. */
            confirmed = ev.tag;
            weft__amqp_event_release(&ev);
        }
    }
    ASSERT_EQ(nacks, 0);
    ASSERT_EQ(confirmed, (uint64_t)N);

    ASSERT_OK(weft__amqp_qos(c, 100, err), err);
    char *tag = NULL;
    ASSERT_OK(weft__amqp_consume(c, q, false, &tag, err), err);
    ASSERT(tag && *tag);
    for (int i = 0; i < N; i++) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
        ASSERT_EQ(ev.kind, WEFT__AMQP_DELIVERY);
        char want[64];
        snprintf(want, sizeof want, "{\"i\":%d}", i);
        ASSERT_STR_EQ(ev.body, want);
        ASSERT_STR_EQ(ev.routing_key, q);
        ASSERT(!ev.redelivered);
        ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
        weft__amqp_event_release(&ev);
    }
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    ASSERT_EQ(weft__amqp_next(c, 200, &ev, err), WEFT_ETIMEDOUT);
    ASSERT_OK(weft__amqp_cancel(c, tag, err), err);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    ASSERT(!weft__amqp_broken(c));
    free(tag);
    free(q);
    weft__amqp_close(c);
}

TEST(publish_wait_keeps_deliveries)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp *c = connect_ok(true);
    char *q = qname("pw");
    ASSERT_OK(weft__amqp_declare_queue(c, q, NULL, NULL, err), err);
    ASSERT_OK(weft__amqp_consume(c, q, false, NULL, err), err);
    /* Our own message comes back as a delivery while we wait for its confirm. */
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "one", 3, true, 0, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "two", 3, true, 0, err), err);
    int deliveries = 0, confirms = 0;
    for (;;) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, 500, &ev, err);
        if (e == WEFT_ETIMEDOUT) break;
        ASSERT_OK(e, err);
        if (ev.kind == WEFT__AMQP_DELIVERY) {
            ASSERT_STR_EQ(ev.body, deliveries == 0 ? "one" : "two");
            deliveries++;
            ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
        } else {
            confirms++;
        }
        weft__amqp_event_release(&ev);
    }
    ASSERT_EQ(deliveries, 2);
    ASSERT_EQ(confirms, 2);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    free(q);
    weft__amqp_close(c);
}

TEST(unacked_message_is_redelivered)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char *q = qname("redeliver");
    weft__amqp *c = connect_ok(true);
    weft__amqp_queue_opts qo = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, q, &qo, NULL, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "job", 3, true, 0, err), err);
    ASSERT_OK(weft__amqp_qos(c, 1, err), err);
    ASSERT_OK(weft__amqp_consume(c, q, false, NULL, err), err);
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    do {
        weft__amqp_event_release(&ev);
        ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
    } while (ev.kind != WEFT__AMQP_DELIVERY);
    ASSERT(!ev.redelivered);
    weft__amqp_event_release(&ev);
    weft__amqp_close(c); /* without ack: the broker requeues it */

    c = connect_ok(false);
    ASSERT_OK(weft__amqp_consume(c, q, false, NULL, err), err);
    ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
    ASSERT_EQ(ev.kind, WEFT__AMQP_DELIVERY);
    ASSERT(ev.redelivered);
    ASSERT_STR_EQ(ev.body, "job");
    ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
    weft__amqp_event_release(&ev);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    free(q);
    weft__amqp_close(c);
}

TEST(reject_goes_to_dead_letter_queue)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char *q = qname("dl"), *dead = qname("dl.dead");
    weft__amqp *c = connect_ok(true);
    weft__amqp_queue_opts dq = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, dead, &dq, NULL, err), err);
    weft__amqp_queue_opts qo = {.durable = true, .dead_letter_exchange = "",
                                .dead_letter_routing_key = dead};
    ASSERT_OK(weft__amqp_declare_queue(c, q, &qo, NULL, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "garbage", 7, true, 0, err), err);
    char *tag = NULL;
    ASSERT_OK(weft__amqp_consume(c, q, false, &tag, err), err);
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    do {
        weft__amqp_event_release(&ev);
        ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
    } while (ev.kind != WEFT__AMQP_DELIVERY);
    ASSERT_OK(weft__amqp_reject(c, ev.tag, false, err), err);
    weft__amqp_event_release(&ev);
    ASSERT_OK(weft__amqp_cancel(c, tag, err), err);
    ASSERT_OK(weft__amqp_consume(c, dead, false, NULL, err), err);
    ASSERT_OK(weft__amqp_next(c, 5000, &ev, err), err);
    ASSERT_EQ(ev.kind, WEFT__AMQP_DELIVERY);
    ASSERT_STR_EQ(ev.body, "garbage");
    ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
    weft__amqp_event_release(&ev);
    /* Declaring with other arguments is refused and breaks the connection. */
    weft__amqp_queue_opts other = {.durable = true};
    ASSERT_EQ(weft__amqp_declare_queue(c, q, &other, NULL, err), WEFT_EBROKER);
    ASSERT_CONTAINS(err, "PRECONDITION_FAILED");
    ASSERT(weft__amqp_broken(c));
    weft__amqp_close(c);
    c = connect_ok(false);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    ASSERT_OK(weft__amqp_delete_queue(c, dead, err), err);
    free(tag);
    free(q);
    free(dead);
    weft__amqp_close(c);
}

TEST(heartbeats_keep_an_idle_connection)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = broker_url(), .heartbeat_s = 1};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    /* Poll + next as an owner loop does, for several heartbeat periods. */
    int64_t end = weft__mono_ns() + 4000000000LL;
    while (weft__mono_ns() < end) {
        weft__amqp_poll(c, NULL, 0, 1000);
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, 0, &ev, err);
        ASSERT(e == WEFT_ETIMEDOUT);
    }
    ASSERT(!weft__amqp_broken(c));
    char *q = NULL;
    weft__amqp_queue_opts qo = {.exclusive = true, .auto_delete = true};
    ASSERT_OK(weft__amqp_declare_queue(c, "", &qo, &q, err), err);
    ASSERT(q && strncmp(q, "amq.gen-", 8) == 0);
    free(q);
    weft__amqp_close(c);
}

TEST(fanout_exchange_reaches_every_bound_queue)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp *a = connect_ok(false), *b = connect_ok(true);
    char *x = qname("fanout");
    ASSERT_OK(weft__amqp_declare_exchange(b, x, "fanout", true, err), err);
    weft__amqp *subs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        char *q = NULL;
        weft__amqp_queue_opts qo = {.exclusive = true, .auto_delete = true};
        ASSERT_OK(weft__amqp_declare_queue(subs[i], "", &qo, &q, err), err);
        ASSERT_OK(weft__amqp_bind(subs[i], q, x, "", err), err);
        ASSERT_OK(weft__amqp_consume(subs[i], q, true, NULL, err), err);
        free(q);
    }
    ASSERT_OK(weft__amqp_publish_wait(b, x, "", "hello", 5, false, 0, err), err);
    for (int i = 0; i < 2; i++) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        do {
            weft__amqp_event_release(&ev);
            ASSERT_OK(weft__amqp_next(subs[i], 5000, &ev, err), err);
        } while (ev.kind != WEFT__AMQP_DELIVERY);
        ASSERT_STR_EQ(ev.body, "hello");
        weft__amqp_event_release(&ev);
    }
    ASSERT_OK(weft__amqp_delete_exchange(b, x, err), err);
    free(x);
    weft__amqp_close(a);
    weft__amqp_close(b);
}

/* Malformed URLs are masked too: the userinfo runs to the last '@', and a
 * user part that is itself malformed is not shown either. */
TEST(redact_masks_malformed_urls)
{
    char buf[256];
    static const char *const cases[][2] = {
        {"amqp://u:pa/ss@h:5672/%2f", "amqp://u:***@h:5672/%2f"},
        {"amqp://u:pa#ss@h:5672/%2f", "amqp://u:***@h:5672/%2f"},
        {"amqp://u:pa?ss@h:5672/%2f", "amqp://u:***@h:5672/%2f"},
        {"http://u:pw@h/", "http://u:***@h/"},
        {"amqp://u/x:pw@h/v", "amqp://***@h/v"},
        {"amqp://u:@h/v", "amqp://u:***@h/v"},
        {"u:pa/ss@h:1", "u:***@h:1"},
        {"amqp://h:5672/%2f", "amqp://h:5672/%2f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        weft__amqp_redact(cases[i][0], buf, sizeof buf);
        ASSERT_STR_EQ(buf, cases[i][1]);
    }
    weft__amqp_redact("amqp://u:secret@h/v", buf, 10); /* truncated, never the password */
    ASSERT_STR_EQ(buf, "amqp://u:");
    /* The parser refuses it; the error shows it masked, with the cause. */
    char why[WEFT_ERRBUF_SIZE] = "";
    weft__amqp *conn = NULL;
    ASSERT_EQ(weft__amqp_open(&(weft__amqp_opts){.url = "amqp://u:pa/ss@127.0.0.1:1/%2f"}, &conn,
                              why),
              WEFT_EINVAL);
    static const char *const has[] = {"malformed broker URL amqp://u:***@127.0.0.1:1/%2f", "%2F"};
    for (size_t i = 0; i < 2; i++) ASSERT_CONTAINS(why, has[i]);
    ASSERT_NOT_CONTAINS(why, "pa/ss");
}

/* The test broker's TLS URL with its host replaced by `host`, into buf. */
static const char *tls_url_at(const char *host, char *buf, size_t size, const char **ca)
{
    const char *u = tls_url(ca), *at = strrchr(u, '@'), *colon = strchr(at, ':');
    ASSERT(at && colon);
    snprintf(buf, size, "%.*s%s%s", (int)(at + 1 - u), u, host, colon);
    return buf;
}

/* amqps:// to 127.0.0.1, whose certificate names IP:127.0.0.1: verified
 * (rabbitmq-c's own name check compares DNS names only and refused it). */
TEST(tls_ip_address_in_the_certificate_verifies)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf, url[1024];
    const char *ca;
    weft__amqp_opts o = {.url = tls_url_at("127.0.0.1", url, sizeof url, &ca), .ca_file = ca,
                         .confirms = true, .name = "test_amqp_tls_ip"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    char *q = qname("tlsip");
    ASSERT_OK(weft__amqp_declare_queue(c, q, NULL, NULL, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", q, "over tls", 8, false, 5000, err), err);
    ASSERT_OK(weft__amqp_delete_queue(c, q, err), err);
    free(q);
    weft__amqp_close(c);
}

/* A free loopback port (bound, then released for a server of ours). */
static int free_port(void)
{
    int port;
    close(broker_silent_listener(&port));
    return port;
}

/* A TLS server whose certificate (signed by a CA of the test's own) names
 * DNS:localhost only: connecting to 127.0.0.1 with that CA is refused,
 * saying that the address does not match. */
TEST(tls_certificate_without_the_ip_is_refused)
{
    const char *gen =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj '/CN=test CA' -keyout ca.key -out ca.pem && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj '/CN=localhost' -keyout leaf.key -out leaf.csr && "
        "printf 'subjectAltName=DNS:localhost\\n' >san.ext && "
        "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out leaf.pem";
    char *out = NULL;
    if (test_run_cmd(gen, &out) != 0) FAIL("openssl failed:\n%s", out);
    free(out);
    int port = free_port();
    char accept[64];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    pid_t srv = fork();
    if (srv == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept, "-cert", "leaf.pem",
               "-key", "leaf.key", (char *)NULL);
        _exit(127);
    }
    char url[256];
    snprintf(url, sizeof url, "amqps://guest:guest@127.0.0.1:%d/%%2f", port);
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = url, .ca_file = "ca.pem", .timeout_ms = 2000};
    weft__amqp *c = NULL;
    weft_err e = WEFT_EBROKER;
    for (int i = 0; i < 100; i++) { /* until the server listens */
        e = weft__amqp_open(&o, &c, err);
        if (!strstr(err, "Connection refused")) break;
        usleep(50000);
    }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    printf("    %s\n", err);
    ASSERT_EQ(e, WEFT_EBROKER);
    ASSERT(c == NULL);
    ASSERT_CONTAINS(err, "TLS: SSL peer cert verification failed (IP address mismatch)");
    ASSERT_NOT_CONTAINS(err, "guest:guest");
}

/* Fires the abort of an open in progress after 300 ms, from another thread
 * (as the cluster executor's start() does on Ctrl-C). */
typedef struct abort_later {
    weft__amqp_abort *abort;
    int pipe_w;
} abort_later;

static void *fire_later(void *arg)
{
    abort_later *a = arg;
    usleep(300000);
    ASSERT_EQ(write(a->pipe_w, "x", 1), 1);
    weft__amqp_abort_fire(a->abort);
    return NULL;
}

/* A broker that accepts and never answers: an open with an abort gives up
 * as soon as it fires, well before the 5 s login timeout, and says so. */
TEST(abort_cuts_a_hanging_login_short)
{
    int port, s = broker_silent_listener(&port);
    char url[128];
    snprintf(url, sizeof url, "amqp://guest:secret@127.0.0.1:%d/%%2f", port);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    weft__amqp_abort ab = WEFT__AMQP_ABORT_INIT(p[0]);
    abort_later later = {&ab, p[1]};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, fire_later, &later), 0);
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = url, .abort = &ab};
    weft__amqp *c = NULL;
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_ECANCELED);
    int64_t took = weft__mono_ns() - t0;
    pthread_join(t, NULL);
    printf("    %s (%.2f s)\n", err, (double)took / 1e9);
    ASSERT(c == NULL);
    ASSERT_GE(took, 250000000LL);
    ASSERT_LT(took, 1500000000LL);
    ASSERT_CONTAINS(err, "was interrupted");
    ASSERT_NOT_CONTAINS(err, "secret");
    /* Once fired, the next open gives up at once. */
    ASSERT_EQ(weft__amqp_open(&o, &c, err), WEFT_ECANCELED);
    close(p[0]);
    close(p[1]);
    close(s);
}

TEST_MAIN(TEST_ENTRY(redact_hides_password), TEST_ENTRY(backoff_grows_and_caps),
          TEST_ENTRY(refused_port_fails_fast), TEST_ENTRY(silent_server_times_out),
          TEST_ENTRY(refused_login_is_clear), TEST_ENTRY(unknown_vhost_is_clear),
          TEST_ENTRY(malformed_url), TEST_ENTRY(tls_with_the_brokers_ca_round_trip),
          TEST_ENTRY(tls_without_the_ca_is_refused),
          TEST_ENTRY(publish_confirm_consume_ack_round_trip),
          TEST_ENTRY(publish_wait_keeps_deliveries), TEST_ENTRY(unacked_message_is_redelivered),
          TEST_ENTRY(reject_goes_to_dead_letter_queue),
          TEST_ENTRY(heartbeats_keep_an_idle_connection),
          TEST_ENTRY(fanout_exchange_reaches_every_bound_queue),
          TEST_ENTRY(redact_masks_malformed_urls),
          TEST_ENTRY(tls_ip_address_in_the_certificate_verifies),
          TEST_ENTRY(tls_certificate_without_the_ip_is_refused),
          TEST_ENTRY(abort_cuts_a_hanging_login_short))
