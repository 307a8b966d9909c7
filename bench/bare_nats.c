/* Bare libnats baselines for `make bench`: the numbers the fleet's wrapper and services are
 * compared against, in the same run, on the same server.
 *
 *   bare_nats publish   URL COUNT SUBJECT            publish COUNT small messages, print msgs/s
 *   bare_nats subscribe URL COUNT SUBJECT            receive COUNT messages, print msgs/s
 *   bare_nats heartbeats URL COUNT PROJECTS          publish COUNT heartbeats round-robin over
 *                                                    PROJECTS slugs p-00000…, print msgs/s and
 *                                                    the CLOCK_MONOTONIC time it started
 *   bare_nats request URL SECONDS SUBJECT PAYLOAD THREADS
 *                                                    THREADS closed loops of requests for SECONDS,
 *                                                    print requests/s, p50 and p99 in ms
 *   bare_nats respond URL SECONDS SUBJECT REPLY        answer requests on SUBJECT with REPLY for
 *                                                    SECONDS: the bare responder baseline
 *   bare_nats paced URL SECONDS SUBJECT PAYLOAD RATE
 *                                                    requests sent at RATE per second whatever the
 *                                                    replies do (open loop: no coordinated
 *                                                    omission), replies taken on one inbox
 *                                                    subscription; print replies/s, p50, p99 in ms
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile long received = 0;
static double first = 0, last = 0;

static void onMsg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc; (void)sub; (void)closure;
    if (received == 0) first = now();
    received++;
    last = now();
    natsMsg_Destroy(msg);
}

typedef struct {
    natsConnection *nc;
    const char *subject, *payload;
    double deadline;
    double *latencies;
    long count, capacity, failures;
} requester;

static void *requestLoop(void *arg) {
    requester *r = arg;
    while (now() < r->deadline) {
        natsMsg *reply = NULL;
        double t = now();
        if (natsConnection_RequestString(&reply, r->nc, r->subject, r->payload, 1000) != NATS_OK) { r->failures++; continue; }
        double d = now() - t;
        natsMsg_Destroy(reply);
        if (r->count == r->capacity) {
            r->capacity *= 2;
            r->latencies = realloc(r->latencies, (size_t)r->capacity * sizeof(double));
        }
        r->latencies[r->count++] = d * 1000;
    }
    return NULL;
}

static double *sentAt, *latency;
static volatile long replies = 0;

static void onReply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc; (void)sub; (void)closure;
    const char *subject = natsMsg_GetSubject(msg);
    long id = atol(strrchr(subject, '.') + 1);
    latency[id] = (now() - sentAt[id]) * 1000;
    __atomic_add_fetch(&replies, 1, __ATOMIC_RELAXED);
    natsMsg_Destroy(msg);
}

static void onRequest(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    const char *reply = natsMsg_GetReply(msg);
    if (reply) natsConnection_PublishString(nc, reply, (const char *)closure);
    natsMsg_Destroy(msg);
}

static int byValue(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: bare_nats publish|subscribe|heartbeats URL COUNT ARG\n"); return 2; }
    const char *mode = argv[1], *url = argv[2];
    long count = atol(argv[3]);
    natsConnection *nc = NULL;
    natsOptions *opts = NULL;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url);
    /* Requests are timed per round trip: no 1 ms flusher delay (the services' connections do the same). */
    if (strcmp(mode, "request") == 0 || strcmp(mode, "paced") == 0 || strcmp(mode, "respond") == 0)
        natsOptions_SetSendAsap(opts, true);
    if (natsConnection_Connect(&nc, opts) != NATS_OK) { fprintf(stderr, "connect failed\n"); return 1; }
    if (strcmp(mode, "publish") == 0) {
        const char *payload = "0123456789abcdef0123456789abcdef";
        double t0 = now();
        for (long i = 0; i < count; i++) natsConnection_Publish(nc, argv[4], payload, 32);
        natsConnection_FlushTimeout(nc, 30000);
        printf("%.0f\n", count / (now() - t0));
    } else if (strcmp(mode, "subscribe") == 0) {
        natsSubscription *sub = NULL;
        natsConnection_Subscribe(&sub, nc, argv[4], onMsg, NULL);
        natsSubscription_SetPendingLimits(sub, 1000000, 1024 * 1024 * 1024);
        natsConnection_Flush(nc);
        printf("ready\n");
        fflush(stdout);
        double deadline = now() + 120;
        while (received < count && now() < deadline) nats_Sleep(5);
        /* rate over first..last, count, and the monotonic time of the last message */
        printf("%.0f %ld %.6f\n", received / (last - first > 0 ? last - first : 1), received, last);
        natsSubscription_Destroy(sub);
    } else if (strcmp(mode, "request") == 0 && argc == 7) {
        int threads = atoi(argv[6]);
        pthread_t tids[64];
        requester rs[64];
        double start = now();
        for (int i = 0; i < threads && i < 64; i++) {
            rs[i] = (requester){nc, argv[4], argv[5], start + (double)count, malloc(1024 * sizeof(double)), 0, 1024, 0};
            pthread_create(&tids[i], NULL, requestLoop, &rs[i]);
        }
        long total = 0, failures = 0;
        for (int i = 0; i < threads && i < 64; i++) { pthread_join(tids[i], NULL); total += rs[i].count; failures += rs[i].failures; }
        double elapsed = now() - start;
        double *all = malloc((size_t)(total > 0 ? total : 1) * sizeof(double));
        long k = 0;
        for (int i = 0; i < threads && i < 64; i++) { memcpy(all + k, rs[i].latencies, (size_t)rs[i].count * sizeof(double)); k += rs[i].count; }
        qsort(all, (size_t)total, sizeof(double), byValue);
        if (total == 0) { fprintf(stderr, "no replies (%ld failures)\n", failures); return 1; }
        printf("%.0f %.3f %.3f\n", total / elapsed, all[total / 2], all[(long)(total * 0.99)]);
        if (failures) fprintf(stderr, "%ld requests failed\n", failures);
    } else if (strcmp(mode, "respond") == 0 && argc == 6) {
        natsSubscription *sub = NULL;
        natsConnection_Subscribe(&sub, nc, argv[4], onRequest, argv[5]);
        nats_Sleep(count * 1000);
        natsSubscription_Destroy(sub);
    } else if (strcmp(mode, "paced") == 0 && argc == 7) {
        long rate = atol(argv[6]), total = rate * count;
        sentAt = calloc((size_t)total, sizeof(double));
        latency = calloc((size_t)total, sizeof(double));
        natsSubscription *sub = NULL;
        natsConnection_Subscribe(&sub, nc, "_INBOX.paced.*", onReply, NULL);
        natsConnection_Flush(nc);
        char reply[64];
        double start = now();
        for (long i = 0; i < total; i++) {
            double due = start + (double)i / rate;
            double wait = due - now();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
            snprintf(reply, sizeof reply, "_INBOX.paced.%ld", i);
            sentAt[i] = now();
            natsConnection_PublishRequestString(nc, argv[4], reply, argv[5]);
        }
        double sent = now() - start;
        for (int i = 0; i < 100 && replies < total; i++) nats_Sleep(10);
        long got = replies;
        double *all = malloc((size_t)total * sizeof(double));
        long k = 0;
        for (long i = 0; i < total; i++) if (latency[i] > 0) all[k++] = latency[i];
        if (k == 0) { fprintf(stderr, "no replies\n"); return 1; }
        qsort(all, (size_t)k, sizeof(double), byValue);
        printf("%.0f %.3f %.3f\n", got / sent, all[k / 2], all[(long)(k * 0.99)]);
        if (got < total) fprintf(stderr, "%ld of %ld requests unanswered\n", total - got, total);
        natsSubscription_Destroy(sub);
    } else if (strcmp(mode, "heartbeats") == 0) {
        /* Payloads are rendered before the clock starts, so the publisher is not the bottleneck:
         * two instances per project, alternating. */
        int projects = atoi(argv[4]);
        char ts[40];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char (*subjects)[48] = malloc((size_t)projects * 48);
        char (*payloads)[2][128] = malloc((size_t)projects * 2 * 128);
        int (*lengths)[2] = malloc((size_t)projects * 2 * sizeof(int));
        for (int p = 0; p < projects; p++) {
            snprintf(subjects[p], 48, "fluke.federation.heartbeat.p-%05d", p);
            for (int k = 0; k < 2; k++)
                lengths[p][k] = snprintf(payloads[p][k], 128,
                    "{\"slug\":\"p-%05d\",\"instance_id\":\"i-%d\",\"version\":\"1.0.0\",\"timestamp\":\"%s\"}",
                    p, k, ts);
        }
        double t0 = now();
        for (long i = 0; i < count; i++) {
            int p = (int)(i % projects), k = (int)((i / projects) % 2);
            natsConnection_Publish(nc, subjects[p], payloads[p][k], lengths[p][k]);
        }
        natsConnection_FlushTimeout(nc, 30000);
        /* rate, and the monotonic time the first heartbeat left */
        printf("%.0f %.6f\n", count / (now() - t0), t0);
    }
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return 0;
}
