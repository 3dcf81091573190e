
/*
 * ngx_tracker: UDP tracker datagrams read and answered in batches,
 * straight from the listening socket.
 *
 * nginx's stream module makes every datagram a session: a connection, a
 * pool, an rbtree entry for the client address, the session's module
 * contexts and variables, the phase engine and the log phase, then all of
 * it torn down again, and one recvmsg() and one sendmsg() per datagram.
 * For a tracker whose answer is one swarm call, that machinery costs
 * several times the answer itself.  A tracker_udp server can therefore take
 * its listening socket's read event over (in each worker, after nginx set
 * it up): recvmmsg() a batch, answer each datagram from a stack of reply
 * buffers, sendmmsg() the replies.  Nothing is allocated per datagram.
 *
 * On a wildcard listen nginx asks the kernel for each datagram's local
 * address (IP_PKTINFO, IPV6_RECVPKTINFO); the reply names it as its source,
 * so clients hear from the address they contacted.
 */

#ifndef _NGX_TRACKER_UDP_IO_H_INCLUDED_
#define _NGX_TRACKER_UDP_IO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_udp_parse.h"


/* room to see that a datagram is longer than any valid request */
#define NGX_TRACKER_UDP_IO_IN   (NGX_TRACKER_UDP_MAX_DATAGRAM + 1)
/* the longest reply: an announce with 200 IPv4 or 67 IPv6 peers */
#define NGX_TRACKER_UDP_IO_OUT  1232


/* one datagram: where it came from, where it went */
typedef struct {
    struct sockaddr          *sockaddr;
    socklen_t                 socklen;
    struct sockaddr          *local_sockaddr;
    socklen_t                 local_socklen;
} ngx_tracker_udp_peer_t;


typedef struct ngx_tracker_udp_batch_s  ngx_tracker_udp_batch_t;


ngx_tracker_udp_batch_t *ngx_tracker_udp_batch_create(ngx_pool_t *pool,
    ngx_uint_t n);

/*
 * Reads up to max datagrams (and the batch's size) from ls; returns how
 * many (0: none ready), NGX_ERROR on a socket error (logged).
 */
ngx_int_t ngx_tracker_udp_batch_recv(ngx_tracker_udp_batch_t *b,
    ngx_listening_t *ls, ngx_uint_t max);

/* datagram i: its bytes, its addresses, and the buffer for its reply */
u_char *ngx_tracker_udp_batch_datagram(ngx_tracker_udp_batch_t *b,
    ngx_uint_t i, size_t *len, ngx_tracker_udp_peer_t *peer, u_char **out);

/* queues the reply to datagram i (len bytes of its out buffer) */
void ngx_tracker_udp_batch_reply(ngx_tracker_udp_batch_t *b, ngx_uint_t i,
    size_t len);

/* sends the queued replies; returns how many could not be sent */
ngx_uint_t ngx_tracker_udp_batch_send(ngx_tracker_udp_batch_t *b,
    ngx_listening_t *ls);

/* one reply from ls's socket, with peer->local_sockaddr as its source */
ngx_int_t ngx_tracker_udp_send_one(ngx_listening_t *ls,
    ngx_tracker_udp_peer_t *peer, u_char *buf, size_t len);


#endif /* _NGX_TRACKER_UDP_IO_H_INCLUDED_ */
