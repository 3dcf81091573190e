/*
 * bench/udp_load.c - a UDP tracker (BEP 15) load generator in the manner of
 * aquatic's udp load test: many simulated peers on many torrents send a
 * mix of connects and announces (numwant 30, mostly seeders), every reply
 * is checked, malformed replies are counted.
 *
 *   udp_load [-t threads] [-s sockets/thread] [-w window/socket]
 *            [-d seconds] [-W warmup seconds] [-T torrents] [-P peers]
 *            [-c connect %] [-S seeder %] [-n numwant] [-u url] host port
 *
 * Torrents are sha1("bench-torrent-<i>"), i < T, picked Zipf-like: the
 * hashes ../shared/bench whitelists in opentracker.  During the warm-up
 * every peer announces "started" (so swarms have peers); the measured run
 * then re-announces random peers.  -u appends BEP 41 URL data to every
 * announce (e.g. "/announce/<passkey>" for a private tracker).  Last line:
 *
 *   RESULT announce_rps=.. connect_rps=.. errors=.. malformed=.. lost=..
 *
 * exit 1 on any malformed reply.  Built by bench/udp.sh (gcc -O2).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define MAX_WINDOW   16
#define REQ_MAX      (98 + 300)   /* an announce with BEP 41 URL data */
#define LOST_AFTER   0.25    /* seconds without a reply: then resend */


typedef struct {
    uint32_t         tid;
    int              type;           /* 0 connect, 1 announce, -1 free */
    double           sent;
} slot_t;


typedef struct {
    int              fd;
    int              have_cid;
    unsigned char    cid[8];
    uint32_t         seq;
    slot_t           slots[MAX_WINDOW];
} sock_t;


typedef struct {
    unsigned char    peer_id[20];
    uint16_t         port;
    int              seeder;
    uint32_t         torrent;
} peer_t;


typedef struct {
    int              id;
    uint64_t         rng;
    sock_t          *socks;
    peer_t          *peers;
    uint32_t         npeers;
    uint32_t         warm_next;      /* next peer to announce "started" */
    /* counters of the measured period */
    uint64_t         announces, connects, errors, malformed, lost;
} worker_t;


static struct sockaddr_storage  target;
static socklen_t                target_len;
static unsigned char          (*hashes)[20];
static int                      nthreads = 2, nsocks = 32, window = 4;
static int                      duration = 10, warmup = 3;
static uint32_t                 ntorrents = 10000, npeers_total = 20000;
static int                      connect_pct = 10, seeder_pct = 80;
static int                      numwant = 30;
static unsigned char            url_opts[REQ_MAX - 98];  /* BEP 41 */
static size_t                   url_opts_len;
static atomic_int               phase;  /* 0 warm-up, 1 measure, 2 stop */


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static uint64_t
rnd(worker_t *w)
{
    /* xorshift64* */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;

    return w->rng * 2685821657736338717ULL;
}


static double
rnd01(worker_t *w)
{
    return (rnd(w) >> 11) / 9007199254740992.0;
}


static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}


static void
put64(unsigned char *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, (uint32_t) v);
}


static uint32_t
get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


/* the next request of slot k into buf; returns its length */
static size_t
build_request(worker_t *w, sock_t *s, int k, unsigned char *buf, double t)
{
    size_t          len;
    uint32_t        tid, event;
    peer_t         *p;
    slot_t         *sl;

    sl = &s->slots[k];
    tid = (++s->seq << 4) | k;

    if (!s->have_cid || (int) (rnd(w) % 100) < connect_pct) {
        put64(buf, 0x41727101980ULL);
        put32(buf + 8, 0);
        put32(buf + 12, tid);
        len = 16;
        sl->type = 0;

    } else {
        if (atomic_load(&phase) == 0 && w->warm_next < w->npeers) {
            p = &w->peers[w->warm_next++];
            event = 2;                                    /* started */

        } else {
            p = &w->peers[rnd(w) % w->npeers];
            event = 0;
        }

        memcpy(buf, s->cid, 8);
        put32(buf + 8, 1);
        put32(buf + 12, tid);
        memcpy(buf + 16, hashes[p->torrent], 20);
        memcpy(buf + 36, p->peer_id, 20);
        put64(buf + 56, 0);                               /* downloaded */
        put64(buf + 64, p->seeder ? 0 : 1000000);         /* left */
        put64(buf + 72, 0);                               /* uploaded */
        put32(buf + 80, event);
        put32(buf + 84, 0);                               /* ip */
        put32(buf + 88, (uint32_t) rnd(w));               /* key */
        put32(buf + 92, (uint32_t) numwant);
        buf[96] = p->port >> 8;
        buf[97] = (unsigned char) p->port;
        memcpy(buf + 98, url_opts, url_opts_len);
        len = 98 + url_opts_len;
        sl->type = 1;
    }

    sl->tid = tid;
    sl->sent = t;

    return len;
}


static void
send_request(worker_t *w, sock_t *s, int k)
{
    unsigned char  buf[REQ_MAX];
    size_t         len;

    len = build_request(w, s, k, buf, now());

    if (send(s->fd, buf, len, 0) < 0 && errno != EAGAIN) {
        perror("send");
    }
}


/* 1 for a reply that is valid for its request, 0 for a malformed one */
static int
check_reply(worker_t *w, sock_t *s, slot_t *sl, unsigned char *r, ssize_t n)
{
    ssize_t   i, npeers;
    uint32_t  action;

    action = get32(r);

    if (action == 3) {
        /* an error reply (e.g. a refused connection id): reconnect */
        s->have_cid = 0;
        return 2;
    }

    if (sl->type == 0) {
        if (action != 0 || n != 16) {
            return 0;
        }

        memcpy(s->cid, r + 8, 8);
        s->have_cid = 1;
        return 1;
    }

    if (action != 1 || n < 20 || (n - 20) % 6 != 0) {
        return 0;
    }

    npeers = (n - 20) / 6;

    if (get32(r + 8) == 0 || npeers > numwant
        || get32(r + 12) + get32(r + 16) == 0)
    {
        return 0;
    }

    /* every peer is one of ours: 127.0.0.1 and a port we announce */
    for (i = 0; i < npeers; i++) {
        unsigned char  *e = r + 20 + i * 6;

        if (e[0] != 127 || e[1] != 0 || e[2] != 0 || e[3] != 1
            || ((e[4] << 8) | e[5]) < 1024)
        {
            return 0;
        }
    }

    (void) w;

    return 1;
}


static void *
run(void *arg)
{
    worker_t       *w = arg;
    unsigned char  *r;
    int             i, j, k, rc, measuring, got, nq;
    ssize_t         n;
    double          t, last_sweep;
    struct pollfd  *pfd;
    sock_t         *s;
    slot_t         *sl;
    uint32_t        tid;

    /*
     * A socket's replies are read with one recvmmsg() and the requests
     * that follow them go out with one sendmmsg(): the generator's own
     * system calls should not be what limits the tracker under test.
     */
    static __thread unsigned char   rbuf[MAX_WINDOW][2048];
    static __thread unsigned char   qbuf[MAX_WINDOW][REQ_MAX];
    static __thread struct iovec    riov[MAX_WINDOW], qiov[MAX_WINDOW];
    static __thread struct mmsghdr  rmsg[MAX_WINDOW], qmsg[MAX_WINDOW];

    for (j = 0; j < MAX_WINDOW; j++) {
        riov[j].iov_base = rbuf[j];
        riov[j].iov_len = sizeof(rbuf[j]);
        rmsg[j].msg_hdr.msg_iov = &riov[j];
        rmsg[j].msg_hdr.msg_iovlen = 1;
        qiov[j].iov_base = qbuf[j];
        qmsg[j].msg_hdr.msg_iov = &qiov[j];
        qmsg[j].msg_hdr.msg_iovlen = 1;
    }

    pfd = calloc(nsocks, sizeof(struct pollfd));

    for (i = 0; i < nsocks; i++) {
        s = &w->socks[i];
        pfd[i].fd = s->fd;
        pfd[i].events = POLLIN;

        for (k = 0; k < window; k++) {
            send_request(w, s, k);
        }
    }

    last_sweep = now();

    while (atomic_load(&phase) != 2) {
        rc = poll(pfd, nsocks, 100);
        if (rc < 0 && errno != EINTR) {
            perror("poll");
            break;
        }

        measuring = (atomic_load(&phase) == 1);

        for (i = 0; i < nsocks && rc > 0; i++) {
            if (!(pfd[i].revents & POLLIN)) {
                continue;
            }

            s = &w->socks[i];

            got = recvmmsg(s->fd, rmsg, window, MSG_DONTWAIT, NULL);
            t = now();
            nq = 0;

            for (j = 0; j < got; j++) {
                r = rbuf[j];
                n = rmsg[j].msg_len;

                if (n < 8) {
                    if (measuring) {
                        w->malformed++;
                    }
                    continue;
                }

                tid = get32(r + 4);
                k = tid & 0xf;
                sl = &s->slots[k];

                if (k >= window || sl->tid != tid || sl->type < 0) {
                    /* a late reply to a request counted as lost */
                    continue;
                }

                switch (check_reply(w, s, sl, r, n)) {
                case 0:
                    if (measuring) {
                        w->malformed++;
                    }
                    break;
                case 2:
                    if (measuring) {
                        w->errors++;
                    }
                    break;
                default:
                    if (measuring) {
                        if (sl->type == 0) {
                            w->connects++;
                        } else {
                            w->announces++;
                        }
                    }
                }

                sl->type = -1;
                qiov[nq].iov_len = build_request(w, s, k, qbuf[nq], t);
                nq++;
            }

            if (nq && sendmmsg(s->fd, qmsg, nq, 0) < 0 && errno != EAGAIN) {
                perror("sendmmsg");
            }
        }

        t = now();

        if (t - last_sweep > 0.2) {
            last_sweep = t;

            for (i = 0; i < nsocks; i++) {
                s = &w->socks[i];

                for (k = 0; k < window; k++) {
                    if (t - s->slots[k].sent > LOST_AFTER) {
                        if (measuring) {
                            w->lost++;
                        }
                        send_request(w, s, k);
                    }
                }
            }
        }
    }

    free(pfd);

    return NULL;
}


static void
usage(void)
{
    fprintf(stderr, "usage: udp_load [-t threads] [-s sockets] [-w window] "
            "[-d secs] [-W warmup] [-T torrents] [-P peers] [-c connect%%] "
            "[-S seeder%%] [-n numwant] [-u url] host port\n");
    exit(2);
}


/* BEP 41: URL data (type 2) in chunks of up to 255 bytes, then end (0) */
static void
set_url(const char *url)
{
    size_t  n, left;

    left = strlen(url);
    url_opts_len = 0;

    if (left > 255 * 2) {
        usage();
    }

    while (left) {
        n = left > 255 ? 255 : left;
        url_opts[url_opts_len++] = 2;
        url_opts[url_opts_len++] = (unsigned char) n;
        memcpy(url_opts + url_opts_len, url, n);
        url_opts_len += n;
        url += n;
        left -= n;
    }

    url_opts[url_opts_len++] = 0;
}


int
main(int argc, char **argv)
{
    int               opt, i, j, fd;
    double            zipf;
    uint64_t          ann, con, err, mal, lost;
    char              name[64];
    unsigned int      len;
    worker_t         *ws;
    pthread_t        *th;
    struct addrinfo   hints, *ai;

    while ((opt = getopt(argc, argv, "t:s:w:d:W:T:P:c:S:n:u:")) != -1) {
        switch (opt) {
        case 't': nthreads = atoi(optarg); break;
        case 's': nsocks = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'd': duration = atoi(optarg); break;
        case 'W': warmup = atoi(optarg); break;
        case 'T': ntorrents = strtoul(optarg, NULL, 10); break;
        case 'P': npeers_total = strtoul(optarg, NULL, 10); break;
        case 'c': connect_pct = atoi(optarg); break;
        case 'S': seeder_pct = atoi(optarg); break;
        case 'n': numwant = atoi(optarg); break;
        case 'u': set_url(optarg); break;
        default: usage();
        }
    }

    if (argc - optind != 2 || nthreads < 1 || nsocks < 1 || window < 1
        || window > MAX_WINDOW || ntorrents < 1 || npeers_total < 1)
    {
        usage();
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;

    if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai) != 0) {
        fprintf(stderr, "bad address %s %s\n", argv[optind], argv[optind + 1]);
        return 2;
    }

    memcpy(&target, ai->ai_addr, ai->ai_addrlen);
    target_len = ai->ai_addrlen;

    hashes = malloc(ntorrents * 20);

    for (i = 0; i < (int) ntorrents; i++) {
        j = snprintf(name, sizeof(name), "bench-torrent-%d", i);
        EVP_Digest(name, j, hashes[i], &len, EVP_sha1(), NULL);
    }

    ws = calloc(nthreads, sizeof(worker_t));
    th = calloc(nthreads, sizeof(pthread_t));

    for (i = 0; i < nthreads; i++) {
        worker_t  *w = &ws[i];

        w->id = i;
        /* the same peers in every run: runs after a warm-up find them */
        w->rng = 0x9E3779B97F4A7C15ULL * (i + 1);
        w->npeers = npeers_total / nthreads ? npeers_total / nthreads : 1;
        w->peers = calloc(w->npeers, sizeof(peer_t));
        w->socks = calloc(nsocks, sizeof(sock_t));

        for (j = 0; j < (int) w->npeers; j++) {
            peer_t  *p = &w->peers[j];
            uint64_t x;
            int      b;

            memcpy(p->peer_id, "-UL0001-", 8);
            for (b = 8; b < 20; b++) {
                p->peer_id[b] = (unsigned char) rnd(w);
            }
            x = rnd(w);
            p->port = 1024 + (x % 60000);
            p->seeder = (int) (rnd(w) % 100) < seeder_pct;
            /* Zipf-like, as the shared HTTP harness picks torrents */
            zipf = pow((double) ntorrents + 1, rnd01(w));
            p->torrent = ((uint32_t) zipf - 1) % ntorrents;
        }

        for (j = 0; j < nsocks; j++) {
            fd = socket(target.ss_family, SOCK_DGRAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *) &target,
                                  target_len) < 0)
            {
                perror("socket");
                return 2;
            }

            w->socks[j].fd = fd;
            for (opt = 0; opt < MAX_WINDOW; opt++) {
                w->socks[j].slots[opt].type = -1;
            }
        }
    }

    for (i = 0; i < nthreads; i++) {
        pthread_create(&th[i], NULL, run, &ws[i]);
    }

    sleep(warmup);
    atomic_store(&phase, 1);
    sleep(duration);
    atomic_store(&phase, 2);

    ann = con = err = mal = lost = 0;

    for (i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        ann += ws[i].announces;
        con += ws[i].connects;
        err += ws[i].errors;
        mal += ws[i].malformed;
        lost += ws[i].lost;
    }

    printf("RESULT announce_rps=%.0f connect_rps=%.0f errors=%llu "
           "malformed=%llu lost=%llu\n",
           ann / (double) duration, con / (double) duration,
           (unsigned long long) err, (unsigned long long) mal,
           (unsigned long long) lost);

    return mal ? 1 : 0;
}
