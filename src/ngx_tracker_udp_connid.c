
/*
 * ngx_tracker: UDP connection ids (see ngx_tracker_udp_connid.h).
 */

#include "ngx_tracker_udp_connid.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>


static void ngx_tracker_udp_keys_cleanup(void *data);
static EVP_MAC_CTX *ngx_tracker_udp_key(ngx_tracker_udp_connid_conf_t *cc,
    uint64_t epoch);
static ngx_int_t ngx_tracker_udp_shm_key(ngx_tracker_udp_sh_t *sh,
    uint64_t epoch, u_char *key);
static ngx_int_t ngx_tracker_udp_mac(ngx_tracker_udp_connid_conf_t *cc,
    struct sockaddr *sa, uint32_t issued, u_char *mac);


static char  ngx_tracker_udp_digest[] = "SHA256";


ngx_int_t
ngx_tracker_udp_keys_init(ngx_tracker_udp_keys_t *keys, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_uint_t           i;
    EVP_MAC             *mac;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_tracker_udp_keys_cleanup;
    cln->data = keys;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "EVP_MAC_fetch(HMAC) failed");
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        keys->epoch[i] = 0;
        keys->ctx[i] = EVP_MAC_CTX_new(mac);

        if (keys->ctx[i] == NULL) {
            EVP_MAC_free(mac);
            ngx_log_error(NGX_LOG_EMERG, log, 0, "EVP_MAC_CTX_new() failed");
            return NGX_ERROR;
        }
    }

    /* the contexts hold their own reference */
    EVP_MAC_free(mac);

    return NGX_OK;
}


static void
ngx_tracker_udp_keys_cleanup(void *data)
{
    ngx_tracker_udp_keys_t  *keys = data;

    ngx_uint_t  i;

    for (i = 0; i < 2; i++) {
        if (keys->ctx[i]) {
            EVP_MAC_CTX_free(keys->ctx[i]);
            keys->ctx[i] = NULL;
        }
    }
}


/* the shared random key of a period, created by the first worker asking */
static ngx_int_t
ngx_tracker_udp_shm_key(ngx_tracker_udp_sh_t *sh, uint64_t epoch,
    u_char *key)
{
    ngx_tracker_udp_key_t  *k;

    k = &sh->keys[epoch % 2];

    if (k->epoch != (ngx_atomic_uint_t) epoch) {

        ngx_spinlock(&sh->lock, ngx_pid, 1024);

        if (k->epoch != (ngx_atomic_uint_t) epoch) {
            k->epoch = 0;
            ngx_memory_barrier();

            if (RAND_bytes(k->key, NGX_TRACKER_UDP_KEY_LEN) != 1) {
                ngx_unlock(&sh->lock);
                return NGX_ERROR;
            }

            ngx_memory_barrier();
            k->epoch = (ngx_atomic_uint_t) epoch;
        }

        ngx_unlock(&sh->lock);
    }

    ngx_memcpy(key, k->key, NGX_TRACKER_UDP_KEY_LEN);
    ngx_memory_barrier();

    /* the slot was reused while it was read: a period long gone */
    if (k->epoch != (ngx_atomic_uint_t) epoch) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a worker's HMAC context keyed for a period; NULL when there is none */
static EVP_MAC_CTX *
ngx_tracker_udp_key(ngx_tracker_udp_connid_conf_t *cc, uint64_t epoch)
{
    u_char                   key[EVP_MAX_MD_SIZE], info[16];
    size_t                   len;
    ngx_uint_t               slot;
    OSSL_PARAM               params[2];
    EVP_MAC_CTX             *ctx;
    ngx_tracker_udp_keys_t  *keys;

    keys = cc->keys;
    slot = epoch % 2;
    ctx = keys->ctx[slot];

    if (keys->epoch[slot] == epoch) {
        return ctx;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 ngx_tracker_udp_digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (cc->secret.len) {
        /* key of a period = HMAC(secret, "udp key" | epoch) */
        ngx_memcpy(info, "udp key\0", 8);

        for (len = 0; len < 8; len++) {
            info[8 + len] = (u_char) (epoch >> (56 - 8 * len));
        }

        if (EVP_MAC_init(ctx, cc->secret.data, cc->secret.len, params) != 1
            || EVP_MAC_update(ctx, info, sizeof(info)) != 1
            || EVP_MAC_final(ctx, key, &len, sizeof(key)) != 1)
        {
            keys->epoch[slot] = 0;
            return NULL;
        }

    } else if (ngx_tracker_udp_shm_key(cc->sh, epoch, key) != NGX_OK) {
        return NULL;

    } else {
        len = NGX_TRACKER_UDP_KEY_LEN;
    }

    if (EVP_MAC_init(ctx, key, len, params) != 1) {
        keys->epoch[slot] = 0;
        return NULL;
    }

    keys->epoch[slot] = epoch;

    return ctx;
}


static ngx_int_t
ngx_tracker_udp_mac(ngx_tracker_udp_connid_conf_t *cc, struct sockaddr *sa,
    uint32_t issued, u_char *mac)
{
    u_char                buf[16 + 4], md[EVP_MAX_MD_SIZE], *p;
    size_t                len;
    EVP_MAC_CTX          *ctx;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ctx = ngx_tracker_udp_key(cc, issued / cc->rotation + 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    p = buf;

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        p = ngx_cpymem(p, sin6->sin6_addr.s6_addr, 16);
        break;
#endif

    default: /* AF_INET */
        sin = (struct sockaddr_in *) sa;
        p = ngx_cpymem(p, &sin->sin_addr.s_addr, 4);
        break;
    }

    *p++ = (u_char) (issued >> 24);
    *p++ = (u_char) (issued >> 16);
    *p++ = (u_char) (issued >> 8);
    *p++ = (u_char) issued;

    /* a NULL key re-initialises the context with the key it has */
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1
        || EVP_MAC_update(ctx, buf, p - buf) != 1
        || EVP_MAC_final(ctx, md, &len, sizeof(md)) != 1)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(mac, md, NGX_TRACKER_UDP_CONNID_LEN - 2);

    return NGX_OK;
}


ngx_int_t
ngx_tracker_udp_connid_make(ngx_tracker_udp_connid_conf_t *cc,
    struct sockaddr *sa, time_t now, u_char *id)
{
    uint32_t  issued;

    issued = (uint32_t) now;

    id[0] = (u_char) (issued >> 8);
    id[1] = (u_char) issued;

    return ngx_tracker_udp_mac(cc, sa, issued, id + 2);
}


ngx_int_t
ngx_tracker_udp_connid_check(ngx_tracker_udp_connid_conf_t *cc,
    struct sockaddr *sa, time_t now, u_char *id)
{
    u_char     mac[NGX_TRACKER_UDP_CONNID_LEN - 2];
    uint16_t   d;
    uint32_t   issued, t;
    uint64_t   epoch, cur;
    ngx_int_t  rc;

    t = (uint32_t) now;
    d = (uint16_t) (t - ((id[0] << 8) | id[1]));

    /* another worker's clock may be a second or so ahead */
    if (d > 0xfff0) {
        issued = t + (uint16_t) (0x10000 - d);

    } else {
        issued = t - d;
    }

    /*
     * Only the current and the previous period have keys; asking for any
     * other would make a worker replace a live key.
     */
    epoch = issued / cc->rotation + 1;
    cur = t / cc->rotation + 1;

    if (epoch + 1 < cur || epoch > cur + 1) {
        return NGX_DECLINED;
    }

    rc = ngx_tracker_udp_mac(cc, sa, issued, mac);
    if (rc != NGX_OK) {
        return rc;
    }

    if (CRYPTO_memcmp(mac, id + 2, sizeof(mac)) != 0) {
        return NGX_DECLINED;
    }

    if (d > cc->ttl && d <= 0xfff0) {
        return NGX_TRACKER_UDP_CONNID_EXPIRED;
    }

    return NGX_OK;
}
