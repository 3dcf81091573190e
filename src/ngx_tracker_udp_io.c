
/*
 * ngx_tracker: UDP tracker datagrams in batches (see the header).
 */

#include "ngx_tracker_udp_io.h"


/* one IP_PKTINFO or IPV6_PKTINFO message, with room to spare */
#define NGX_TRACKER_UDP_IO_CTL  64


struct ngx_tracker_udp_batch_s {
    ngx_uint_t                n;
    ngx_uint_t                nout;
    struct mmsghdr           *in;
    struct mmsghdr           *out;
    struct iovec             *in_iov;
    struct iovec             *out_iov;
    ngx_sockaddr_t           *addr;
    ngx_sockaddr_t           *local;
    u_char                   *in_buf;
    u_char                   *out_buf;
    u_char                   *in_ctl;
    u_char                   *out_ctl;
};


static void ngx_tracker_udp_io_msg(struct msghdr *msg, ngx_listening_t *ls,
    ngx_tracker_udp_peer_t *peer, struct iovec *iov, u_char *ctl);


ngx_tracker_udp_batch_t *
ngx_tracker_udp_batch_create(ngx_pool_t *pool, ngx_uint_t n)
{
    ngx_tracker_udp_batch_t  *b;

    b = ngx_pcalloc(pool, sizeof(ngx_tracker_udp_batch_t));
    if (b == NULL) {
        return NULL;
    }

    b->n = n;
    b->in = ngx_pcalloc(pool, n * sizeof(struct mmsghdr));
    b->out = ngx_pcalloc(pool, n * sizeof(struct mmsghdr));
    b->in_iov = ngx_pcalloc(pool, n * sizeof(struct iovec));
    b->out_iov = ngx_pcalloc(pool, n * sizeof(struct iovec));
    b->addr = ngx_pcalloc(pool, n * sizeof(ngx_sockaddr_t));
    b->local = ngx_pcalloc(pool, n * sizeof(ngx_sockaddr_t));
    b->in_buf = ngx_palloc(pool, n * NGX_TRACKER_UDP_IO_IN);
    b->out_buf = ngx_palloc(pool, n * NGX_TRACKER_UDP_IO_OUT);
    b->in_ctl = ngx_palloc(pool, n * NGX_TRACKER_UDP_IO_CTL);
    b->out_ctl = ngx_palloc(pool, n * NGX_TRACKER_UDP_IO_CTL);

    if (b->in == NULL || b->out == NULL || b->in_iov == NULL
        || b->out_iov == NULL || b->addr == NULL || b->local == NULL
        || b->in_buf == NULL || b->out_buf == NULL || b->in_ctl == NULL
        || b->out_ctl == NULL)
    {
        return NULL;
    }

    return b;
}


ngx_int_t
ngx_tracker_udp_batch_recv(ngx_tracker_udp_batch_t *b, ngx_listening_t *ls,
    ngx_uint_t max)
{
    int             n;
    ngx_err_t       err;
    ngx_uint_t      i;
    struct msghdr  *msg;

    b->nout = 0;
    max = ngx_min(max, b->n);

    /* the kernel wrote the lengths of the last batch over these */
    for (i = 0; i < max; i++) {
        msg = &b->in[i].msg_hdr;

        b->in_iov[i].iov_base = b->in_buf + i * NGX_TRACKER_UDP_IO_IN;
        b->in_iov[i].iov_len = NGX_TRACKER_UDP_IO_IN;

        msg->msg_name = &b->addr[i];
        msg->msg_namelen = sizeof(ngx_sockaddr_t);
        msg->msg_iov = &b->in_iov[i];
        msg->msg_iovlen = 1;
        msg->msg_flags = 0;

        if (ls->wildcard) {
            msg->msg_control = b->in_ctl + i * NGX_TRACKER_UDP_IO_CTL;
            msg->msg_controllen = NGX_TRACKER_UDP_IO_CTL;

        } else {
            msg->msg_control = NULL;
            msg->msg_controllen = 0;
        }
    }

    n = recvmmsg(ls->fd, b->in, max, MSG_DONTWAIT, NULL);

    if (n == -1) {
        err = ngx_socket_errno;

        if (err == NGX_EAGAIN || err == NGX_EINTR) {
            return 0;
        }

        ngx_log_error(NGX_LOG_ALERT, &ls->log, err, "recvmmsg() failed");
        return NGX_ERROR;
    }

    return n;
}


u_char *
ngx_tracker_udp_batch_datagram(ngx_tracker_udp_batch_t *b, ngx_uint_t i,
    size_t *len, ngx_tracker_udp_peer_t *peer, u_char **out)
{
    struct msghdr        *msg;
    struct cmsghdr       *cmsg;
    struct sockaddr_in   *sin;
    struct in_pktinfo    *pkt;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
    struct in6_pktinfo   *pkt6;
#endif

    msg = &b->in[i].msg_hdr;

    *len = b->in[i].msg_len;
    *out = b->out_buf + i * NGX_TRACKER_UDP_IO_OUT;

    peer->sockaddr = &b->addr[i].sockaddr;
    peer->socklen = ngx_min(msg->msg_namelen,
                            (socklen_t) sizeof(ngx_sockaddr_t));

    /* the listening socket's own address unless the kernel says better */
    peer->local_sockaddr = &b->local[i].sockaddr;
    peer->local_socklen = 0;

    for (cmsg = msg->msg_controllen ? CMSG_FIRSTHDR(msg) : NULL;
         cmsg != NULL;
         cmsg = CMSG_NXTHDR(msg, cmsg))
    {
        if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
            pkt = (struct in_pktinfo *) CMSG_DATA(cmsg);
            sin = &b->local[i].sockaddr_in;
            ngx_memzero(sin, sizeof(struct sockaddr_in));
            sin->sin_family = AF_INET;
            sin->sin_addr = pkt->ipi_addr;
            peer->local_socklen = sizeof(struct sockaddr_in);
            break;
        }

#if (NGX_HAVE_INET6)
        if (cmsg->cmsg_level == IPPROTO_IPV6
            && cmsg->cmsg_type == IPV6_PKTINFO)
        {
            pkt6 = (struct in6_pktinfo *) CMSG_DATA(cmsg);
            sin6 = &b->local[i].sockaddr_in6;
            ngx_memzero(sin6, sizeof(struct sockaddr_in6));
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = pkt6->ipi6_addr;
            peer->local_socklen = sizeof(struct sockaddr_in6);
            break;
        }
#endif
    }

    if (peer->local_socklen == 0) {
        /* the reply then goes out without a source address */
        peer->local_sockaddr = NULL;
        msg->msg_controllen = 0;
    }

    return b->in_buf + i * NGX_TRACKER_UDP_IO_IN;
}


void
ngx_tracker_udp_batch_reply(ngx_tracker_udp_batch_t *b, ngx_uint_t i,
    size_t len)
{
    ngx_uint_t               k;
    ngx_tracker_udp_peer_t   peer;
    struct msghdr           *msg;

    k = b->nout++;
    msg = &b->out[k].msg_hdr;

    peer.sockaddr = &b->addr[i].sockaddr;
    peer.socklen = ngx_min(b->in[i].msg_hdr.msg_namelen,
                           (socklen_t) sizeof(ngx_sockaddr_t));
    peer.local_sockaddr = NULL;

    if (b->in[i].msg_hdr.msg_controllen) {
        peer.local_sockaddr = &b->local[i].sockaddr;
    }

    b->out_iov[k].iov_base = b->out_buf + i * NGX_TRACKER_UDP_IO_OUT;
    b->out_iov[k].iov_len = len;

    ngx_tracker_udp_io_msg(msg, NULL, &peer, &b->out_iov[k],
                           b->out_ctl + k * NGX_TRACKER_UDP_IO_CTL);
}


ngx_uint_t
ngx_tracker_udp_batch_send(ngx_tracker_udp_batch_t *b, ngx_listening_t *ls)
{
    int         n;
    ngx_err_t   err;
    ngx_uint_t  off, failed;

    off = 0;
    failed = 0;

    while (off < b->nout) {
        n = sendmmsg(ls->fd, b->out + off, b->nout - off, 0);

        if (n > 0) {
            off += n;
            continue;
        }

        err = ngx_socket_errno;

        if (err == NGX_EINTR) {
            continue;
        }

        if (err == NGX_EAGAIN) {
            /* a full socket buffer: UDP has no retry */
            failed += b->nout - off;
            break;
        }

        /* this one reply could not go; the others may */
        ngx_log_debug1(NGX_LOG_DEBUG_STREAM, &ls->log, err,
                       "tracker udp: sendmmsg() failed at %ui", off);
        failed++;
        off++;
    }

    b->nout = 0;

    return failed;
}


ngx_int_t
ngx_tracker_udp_send_one(ngx_listening_t *ls, ngx_tracker_udp_peer_t *peer,
    u_char *buf, size_t len)
{
    u_char         ctl[NGX_TRACKER_UDP_IO_CTL];
    struct iovec   iov;
    struct msghdr  msg;

    if (ls->fd == (ngx_socket_t) -1) {
        /* the socket was closed meanwhile (reload, shutdown) */
        return NGX_ERROR;
    }

    iov.iov_base = buf;
    iov.iov_len = len;

    ngx_tracker_udp_io_msg(&msg, ls, peer, &iov, ctl);

    if (sendmsg(ls->fd, &msg, 0) != (ssize_t) len) {
        ngx_log_debug0(NGX_LOG_DEBUG_STREAM, &ls->log, ngx_socket_errno,
                       "tracker udp: sendmsg() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A reply to peer; on a wildcard socket (ls NULL: decided by whether the
 * datagram carried its local address) the source address goes in a
 * control message.
 */
static void
ngx_tracker_udp_io_msg(struct msghdr *msg, ngx_listening_t *ls,
    ngx_tracker_udp_peer_t *peer, struct iovec *iov, u_char *ctl)
{
    struct cmsghdr       *cmsg;
    struct in_pktinfo    *pkt;
#if (NGX_HAVE_INET6)
    struct in6_pktinfo   *pkt6;
#endif

    ngx_memzero(msg, sizeof(struct msghdr));

    msg->msg_name = peer->sockaddr;
    msg->msg_namelen = peer->socklen;
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;

    if ((ls && !ls->wildcard) || peer->local_sockaddr == NULL) {
        return;
    }

    ngx_memzero(ctl, NGX_TRACKER_UDP_IO_CTL);

    msg->msg_control = ctl;
    msg->msg_controllen = NGX_TRACKER_UDP_IO_CTL;
    cmsg = CMSG_FIRSTHDR(msg);

    switch (peer->local_sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        cmsg->cmsg_level = IPPROTO_IPV6;
        cmsg->cmsg_type = IPV6_PKTINFO;
        cmsg->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
        pkt6 = (struct in6_pktinfo *) CMSG_DATA(cmsg);
        pkt6->ipi6_addr =
                  ((struct sockaddr_in6 *) peer->local_sockaddr)->sin6_addr;
        msg->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
        break;
#endif

    default: /* AF_INET */
        cmsg->cmsg_level = IPPROTO_IP;
        cmsg->cmsg_type = IP_PKTINFO;
        cmsg->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        pkt = (struct in_pktinfo *) CMSG_DATA(cmsg);
        pkt->ipi_spec_dst =
                  ((struct sockaddr_in *) peer->local_sockaddr)->sin_addr;
        msg->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
        break;
    }
}
