
/*
 * ngx_tracker: the database's ban list (table bans) in the limit zones
 * (ngx_http_tracker_bans_module).
 *
 *   ngx_tracker_bans_changed()   the bans table changed (NOTIFY "b:"), or
 *                                the listener reconnected and changes may
 *                                have been missed: load the list again now
 */

#ifndef _NGX_TRACKER_BANS_H_INCLUDED_
#define _NGX_TRACKER_BANS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


extern ngx_module_t  ngx_http_tracker_bans_module;


void ngx_tracker_bans_changed(void);


#endif /* _NGX_TRACKER_BANS_H_INCLUDED_ */
